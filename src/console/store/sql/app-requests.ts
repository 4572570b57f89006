import type { AppRequest } from '../../../shared/api.js';
import type { AppRequestStore } from '../store.js';
import { nullableNumber, type Engine, type StoreDb } from './engine.js';
import { SqlQueue, type QueueRow } from './queue.js';

export class SqlAppRequests implements AppRequestStore {
  private readonly queue: SqlQueue<'app_requests', AppRequest>;

  constructor(db: StoreDb, _engine: Engine) {
    this.queue = new SqlQueue(db, { table: 'app_requests', timeColumn: 'requested_at', toItem: toAppRequest });
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
    } as QueueRow<'app_requests'>);
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
      { status: d.status, decided_by: d.decidedBy, decided_at: d.decidedAt, note: d.note, policy_version: d.policyVersion },
      'pending',
    );
  }
}

function toAppRequest(row: QueueRow<'app_requests'>): AppRequest {
  return {
    id: row.id,
    deviceId: row.device_id,
    hostname: row.hostname,
    requestedAt: row.requested_at,
    name: row.name,
    path: row.path,
    sha256: row.sha256,
    signer: row.signer,
    user: row.user,
    reason: row.reason,
    status: String(row.status) as AppRequest['status'],
    decidedBy: row.decided_by,
    decidedAt: row.decided_at,
    note: row.note,
    policyVersion: nullableNumber(row.policy_version),
  };
}
