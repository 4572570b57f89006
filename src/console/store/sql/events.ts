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
    // One transaction (one fsync) for the whole batch: under load, frames from many devices share it,
    // and a few statements serve them all (not one per frame or event).
    return this.engine.durableTransaction((trx) => insertBatch(trx, entries));
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

type Entry = { deviceId: string; events: AgentEvent[]; receivedAt: string };

async function insertBatch(trx: StoreTrx, entries: Entry[]): Promise<InsertedEvents[]> {
  // Ids already stored under each (device, seq) these events use. A sequence number seen before
  // with a different id means the device lost its last writes (power cut) or its outbox: the event
  // is kept and the reuse reported.
  const key = (deviceId: string, seq: number) => `${deviceId} ${seq}`;
  const idsAt = new Map<string, Set<string>>();
  for (const part of chunks(
    entries.flatMap((e) => e.events.map((ev) => ({ deviceId: e.deviceId, seq: ev.seq }))),
    ROWS_PER_INSERT,
  )) {
    const seen = await trx
      .selectFrom('events')
      .select(['device_id', 'seq', 'id'])
      .where('device_id', 'in', [...new Set(part.map((p) => p.deviceId))])
      .where('seq', 'in', [...new Set(part.map((p) => p.seq))])
      .execute();
    for (const row of seen) {
      const k = key(row.device_id, Number(row.seq));
      idsAt.set(k, (idsAt.get(k) ?? new Set()).add(row.id));
    }
  }
  // Unique on the id, so a resend, or the same batch through another console process, is stored once.
  const newIds = new Set<string>();
  const rows = entries.flatMap((e) =>
    e.events.map((ev) => ({ id: ev.id, device_id: e.deviceId, seq: ev.seq, type: ev.type, at: ev.at, received_at: e.receivedAt, body: JSON.stringify(ev) })),
  );
  for (const part of chunks(rows, ROWS_PER_INSERT)) {
    const inserted = await trx
      .insertInto('events')
      .values(part)
      .onConflict((oc) => oc.column('id').doNothing())
      .returning('id')
      .execute();
    for (const row of inserted) newIds.add(row.id);
  }
  // Results in the callers' order, as if each frame had been written alone, one after the other.
  return entries.map((e) => {
    const stored: AgentEvent[] = [];
    const reusedSeqs: number[] = [];
    for (const ev of e.events) {
      const k = key(e.deviceId, ev.seq);
      const ids = idsAt.get(k) ?? new Set<string>();
      if ([...ids].some((id) => id !== ev.id)) reusedSeqs.push(ev.seq);
      idsAt.set(k, ids.add(ev.id));
      if (newIds.delete(ev.id)) stored.push(ev);
    }
    return { stored, reusedSeqs };
  });
}
