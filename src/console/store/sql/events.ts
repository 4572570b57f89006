import { AgentEventSchema, type AgentEvent } from '../../../shared/events.js';
import type { EventStore, InsertedEvents, StoredEvent } from '../store.js';
import { chunks, type Engine, type StoreDb, type StoreTrx } from './engine.js';

/** Rows per INSERT: 7 parameters each stays far below either engine's bound on parameters. */
const ROWS_PER_INSERT = 500;

export class SqlEvents implements EventStore {
  constructor(
    private readonly db: StoreDb,
    private readonly engine: Engine,
  ) {}

  async insertEvents(deviceId: string, events: AgentEvent[], receivedAt: string): Promise<InsertedEvents> {
    const [result] = await this.insertEventBatch([{ deviceId, events, receivedAt }]);
    return result!;
  }

  async insertEventBatch(entries: { deviceId: string; events: AgentEvent[]; receivedAt: string }[]): Promise<InsertedEvents[]> {
    // On disk before the ack: a power cut of the console must not lose what a device has deleted.
    // One transaction (one fsync) for the whole batch: under load, frames from many devices share it.
    return this.engine.durableTransaction(async (trx) => {
      const results: InsertedEvents[] = [];
      for (const e of entries) results.push(await insertEventsOf(trx, e.deviceId, e.events, e.receivedAt));
      return results;
    });
  }

  async listEvents(filter: { deviceId?: string; type?: string; limit: number; beforeSeq?: number }): Promise<StoredEvent[]> {
    let query = this.db.selectFrom('events').select(['device_id', 'received_at', 'body']);
    if (filter.deviceId) query = query.where('device_id', '=', filter.deviceId);
    if (filter.type) query = query.where('type', '=', filter.type);
    if (filter.beforeSeq) query = query.where('seq', '<', filter.beforeSeq);
    const rows = await query.orderBy('rowid', 'desc').limit(filter.limit).execute();
    return rows.map((row) => ({
      deviceId: row.device_id,
      receivedAt: row.received_at,
      event: AgentEventSchema.parse(JSON.parse(row.body)),
    }));
  }

  async countEvents(deviceId?: string): Promise<number> {
    let query = this.db.selectFrom('events').select((eb) => eb.fn.countAll().as('n'));
    if (deviceId) query = query.where('device_id', '=', deviceId);
    return Number((await query.executeTakeFirstOrThrow()).n);
  }

  async deleteEventsReceivedBefore(iso: string): Promise<number> {
    return Number((await this.db.deleteFrom('events').where('received_at', '<', iso).executeTakeFirst()).numDeletedRows);
  }

  async listActivityBatches(deviceId: string, filter: { sentFrom: string; sentBefore: string; limit: number }): Promise<unknown[]> {
    const rows = await this.db
      .selectFrom('events')
      .select('body')
      .where('device_id', '=', deviceId)
      .where('type', '=', 'activity.spans')
      .where('at', '>=', filter.sentFrom)
      .where('at', '<', filter.sentBefore)
      .orderBy('at', 'desc')
      .limit(filter.limit)
      .execute();
    return rows.map((row) => (JSON.parse(row.body) as { data?: unknown }).data);
  }

  async listRecentBlocks(sinceIso: string, limit: number): Promise<{ deviceId: string; at: string; name: string }[]> {
    const rows = await this.db
      .selectFrom('events')
      .select(['device_id', 'at', this.engine.jsonText('body', ['data', 'name']).as('name')])
      .where('type', '=', 'app.blocked')
      .where('received_at', '>=', sinceIso)
      .orderBy('rowid', 'desc')
      .limit(limit)
      .execute();
    return rows.reverse().map((row) => ({ deviceId: row.device_id, at: row.at, name: row.name ?? '' }));
  }
}

async function insertEventsOf(trx: StoreTrx, deviceId: string, events: AgentEvent[], receivedAt: string): Promise<InsertedEvents> {
  const stored: AgentEvent[] = [];
  const reusedSeqs: number[] = [];
  for (const part of chunks(events, ROWS_PER_INSERT)) {
    // Deduplicate on the event id. A sequence number seen before with a different id means the
    // device lost its last writes (power cut) or its outbox: keep the event, flag it.
    const seen = await trx
      .selectFrom('events')
      .select(['id', 'seq'])
      .where('device_id', '=', deviceId)
      .where(
        'seq',
        'in',
        part.map((e) => e.seq),
      )
      .execute();
    const idsBySeq = new Map<number, Set<string>>();
    for (const row of seen) idsBySeq.set(Number(row.seq), (idsBySeq.get(Number(row.seq)) ?? new Set()).add(row.id));
    for (const e of part) {
      const ids = idsBySeq.get(e.seq) ?? new Set<string>();
      if ([...ids].some((id) => id !== e.id)) reusedSeqs.push(e.seq);
      idsBySeq.set(e.seq, ids.add(e.id));
    }
    // Unique on the id, so a resend, or the same batch through another console process, is stored once.
    const inserted = await trx
      .insertInto('events')
      .values(part.map((e) => ({ id: e.id, device_id: deviceId, seq: e.seq, type: e.type, at: e.at, received_at: receivedAt, body: JSON.stringify(e) })))
      .onConflict((oc) => oc.column('id').doNothing())
      .returning('id')
      .execute();
    const newIds = new Set(inserted.map((row) => row.id));
    stored.push(...part.filter((e) => newIds.delete(e.id)));
  }
  return { stored, reusedSeqs };
}
