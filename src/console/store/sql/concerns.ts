import { sql } from 'kysely';
import type { Concern, ConcernStatus } from '../../../shared/concern.js';
import type { ConcernStore } from '../store.js';
import { changed, type Engine, type StoreDb } from './engine.js';
import { SqlQueue, type QueueRow } from './queue.js';

export class SqlConcerns implements ConcernStore {
  private readonly queue: SqlQueue<'concerns', Concern>;

  constructor(
    private readonly db: StoreDb,
    _engine: Engine,
  ) {
    this.queue = new SqlQueue(db, { table: 'concerns', timeColumn: 'reported_at', toItem: toConcern });
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
    } as QueueRow<'concerns'>);
  }
  async listConcerns(filter: { status?: ConcernStatus; limit: number }): Promise<Concern[]> {
    return this.queue.list(filter);
  }
  async getConcern(id: string): Promise<Concern | null> {
    return this.queue.get(id);
  }
  async updateConcern(id: string, u: Parameters<ConcernStore['updateConcern']>[1]): Promise<boolean> {
    return this.queue.update(id, {
      status: u.status,
      note: sql`COALESCE(${u.note}, note)`,
      updated_by: u.updatedBy,
      updated_at: u.updatedAt,
    });
  }
  async deleteConcernsClosedBefore(iso: string): Promise<number> {
    return changed(await this.db.deleteFrom('concerns').where('status', '=', 'closed').where('updated_at', '<', iso).executeTakeFirst());
  }
}

function toConcern(row: QueueRow<'concerns'>): Concern {
  return {
    id: row.id,
    deviceId: row.device_id,
    hostname: row.hostname,
    user: row.user,
    reportedAt: row.reported_at,
    category: row.category as Concern['category'],
    text: row.text,
    wantsContact: Number(row.wants_contact) === 1,
    status: String(row.status) as Concern['status'],
    updatedBy: row.updated_by,
    updatedAt: row.updated_at,
    note: row.note,
  };
}
