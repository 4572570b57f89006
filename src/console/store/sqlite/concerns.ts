import type { Concern, ConcernStatus } from '../../../shared/concern.js';
import type { ConcernStore } from '../store.js';
import { nullableText, type Db, type Row } from './database.js';
import { SqliteQueue } from './queue.js';

export class SqliteConcerns implements ConcernStore {
  private readonly queue: SqliteQueue<Concern>;

  constructor(private readonly db: Db) {
    this.queue = new SqliteQueue(db, { table: 'concerns', timeColumn: 'reported_at', toItem: toConcern });
  }

  async insertConcern(c: Parameters<ConcernStore['insertConcern']>[0], receivedAt: string): Promise<boolean> {
    return this.queue.add({
      id: c.id,
      device_id: c.deviceId,
      user: c.user,
      reported_at: c.reportedAt,
      received_at: receivedAt,
      category: c.category,
      text: c.text,
      wants_contact: c.wantsContact ? 1 : 0,
    });
  }
  async listConcerns(filter: { status?: ConcernStatus; limit: number }): Promise<Concern[]> {
    return this.queue.list(filter);
  }
  async getConcern(id: string): Promise<Concern | null> {
    return this.queue.get(id);
  }
  async updateConcern(id: string, u: Parameters<ConcernStore['updateConcern']>[1]): Promise<boolean> {
    return this.queue.update(id, [
      ['status = ?', u.status],
      ['note = COALESCE(?, note)', u.note],
      ['updated_by = ?', u.updatedBy],
      ['updated_at = ?', u.updatedAt],
    ]);
  }
  async deleteConcernsClosedBefore(iso: string): Promise<number> {
    return this.db.prepare("DELETE FROM concerns WHERE status = 'closed' AND updated_at < ?").run(iso).changes;
  }
}

function toConcern(row: Row): Concern {
  return {
    id: String(row.id),
    deviceId: String(row.device_id),
    hostname: String(row.hostname),
    user: nullableText(row.user),
    reportedAt: String(row.reported_at),
    category: String(row.category) as Concern['category'],
    text: String(row.text),
    wantsContact: row.wants_contact === 1,
    status: String(row.status) as Concern['status'],
    updatedBy: nullableText(row.updated_by),
    updatedAt: nullableText(row.updated_at),
    note: nullableText(row.note),
  };
}
