import type { AppRequest } from '../../../shared/api.js';
import type { AppRequestStore } from '../store.js';
import { nullableNumber, nullableText, type Db, type Row } from './database.js';
import { SqliteQueue } from './queue.js';

export class SqliteAppRequests implements AppRequestStore {
  private readonly queue: SqliteQueue<AppRequest>;

  constructor(db: Db) {
    this.queue = new SqliteQueue(db, { table: 'app_requests', timeColumn: 'requested_at', toItem: toAppRequest });
  }

  async insertAppRequest(r: Parameters<AppRequestStore['insertAppRequest']>[0]): Promise<boolean> {
    return this.queue.add({
      id: r.id,
      device_id: r.deviceId,
      requested_at: r.requestedAt,
      name: r.name,
      path: r.path,
      sha256: r.sha256,
      signer: r.signer,
      user: r.user,
      reason: r.reason,
    });
  }
  async listAppRequests(filter: { status?: AppRequest['status']; limit: number }): Promise<AppRequest[]> {
    return this.queue.list(filter);
  }
  async countPendingAppRequests(deviceId: string): Promise<number> {
    return this.queue.count(deviceId, 'pending');
  }
  async getAppRequest(id: string): Promise<AppRequest | null> {
    return this.queue.get(id);
  }
  async decideAppRequest(id: string, d: Parameters<AppRequestStore['decideAppRequest']>[1]): Promise<boolean> {
    return this.queue.update(
      id,
      [
        ['status = ?', d.status],
        ['decided_by = ?', d.decidedBy],
        ['decided_at = ?', d.decidedAt],
        ['note = ?', d.note],
        ['policy_version = ?', d.policyVersion],
      ],
      'pending',
    );
  }
}

function toAppRequest(row: Row): AppRequest {
  return {
    id: String(row.id),
    deviceId: String(row.device_id),
    hostname: String(row.hostname),
    requestedAt: String(row.requested_at),
    name: String(row.name),
    path: String(row.path),
    sha256: String(row.sha256),
    signer: String(row.signer),
    user: nullableText(row.user),
    reason: nullableText(row.reason),
    status: String(row.status) as AppRequest['status'],
    decidedBy: nullableText(row.decided_by),
    decidedAt: nullableText(row.decided_at),
    note: nullableText(row.note),
    policyVersion: nullableNumber(row.policy_version),
  };
}
