import { CompiledQuery } from 'kysely';
import { AgentEventSchema, type AgentEvent } from '../../../shared/events.js';
import type { EventStore, InsertedEvents, StoredEvent } from '../store.js';
import { chunks, type Engine, type StoreDb, type StoreTrx } from './engine.js';
import type { ConsoleTables } from './schema.js';

/** Rows per INSERT: 7 parameters each stays far below either engine's bound on parameters. */
const ROWS_PER_INSERT = 500;
/** (device, seq) pairs per lookup: an OR of this many terms stays far below SQLite's expression depth bound (1000). */
const PAIRS_PER_SELECT = 200;

export class SqlEvents implements EventStore {
  private readonly texts: EventBatchTexts;

  constructor(
    private readonly db: StoreDb,
    private readonly engine: Engine,
  ) {
    this.texts = new EventBatchTexts(engine.kind);
  }

  async insertEvents(deviceId: string, events: AgentEvent[], receivedAt: string): Promise<InsertedEvents> {
    const [result] = await this.insertEventBatch([{ deviceId, events, receivedAt }]);
    return result!;
  }

  async insertEventBatch(entries: { deviceId: string; events: AgentEvent[]; receivedAt: string }[]): Promise<InsertedEvents[]> {
    // On disk before the ack: a power cut of the console must not lose what a device has deleted.
    // One transaction (one fsync) for the whole batch: under load, frames from many devices share it,
    // and a few statements serve them all (not one per frame or event).
    const count = entries.reduce((n, e) => n + e.events.length, 0);
    if (this.engine.kind === 'postgres' && count <= PAIRS_PER_SELECT) {
      // The console's commonest write over a network: the lookup and the insert in one statement,
      // its own transaction — one round trip where a transaction block of the two takes four.
      const { pairs, rows } = batchParameters(entries);
      const result = await this.engine.durableStatement<{ device_id: string | null; seq: number | null; id: string }>(
        CompiledQuery.raw(this.texts.seenAndInsert(pairs.length, rows.length), [...pairs.flat(), ...rows.flat()]),
      );
      const seen = result.rows.filter((row) => row.device_id !== null);
      const inserted = result.rows.filter((row) => row.device_id === null);
      return batchResults(entries, seen as { device_id: string; seq: number; id: string }[], inserted);
    }
    return this.engine.durableTransaction((trx) => insertBatch(trx, entries, this.texts));
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
const key = (deviceId: string, seq: number) => `${deviceId} ${seq}`;

/** The batch's distinct (device, seq) pairs and its rows, each row's parameters in EVENT_COLUMNS order. */
function batchParameters(entries: Entry[]): { pairs: (readonly [string, number])[]; rows: (string | number)[][] } {
  const pairs = [...new Map(entries.flatMap((e) => e.events.map((ev) => [key(e.deviceId, ev.seq), [e.deviceId, ev.seq] as const] as const))).values()];
  const rows = entries.flatMap((e) => e.events.map((ev) => [ev.id, e.deviceId, ev.seq, ev.type, ev.at, e.receivedAt, JSON.stringify(ev)]));
  return { pairs, rows };
}

async function insertBatch(trx: StoreTrx, entries: Entry[], texts: EventBatchTexts): Promise<InsertedEvents[]> {
  const { pairs, rows } = batchParameters(entries);
  const seen: { device_id: string; seq: number; id: string }[] = [];
  for (const part of chunks(pairs, PAIRS_PER_SELECT)) {
    seen.push(...(await trx.executeQuery<{ device_id: string; seq: number; id: string }>(CompiledQuery.raw(texts.seen(part.length), part.flat()))).rows);
  }
  // Unique on the id, so a resend, or the same batch through another console process, is stored once.
  const inserted: { id: string }[] = [];
  for (const part of chunks(rows, ROWS_PER_INSERT)) {
    inserted.push(...(await trx.executeQuery<{ id: string }>(CompiledQuery.raw(texts.insert(part.length), part.flat()))).rows);
  }
  return batchResults(entries, seen, inserted);
}

/**
 * Results in the callers' order, as if each frame had been written alone, one after the other,
 * from the ids stored under the batch's (device, seq) pairs before it (`seen`) and the ids it
 * stored. A sequence number seen before with a different id means the device lost its last
 * writes (power cut) or its outbox: the event is kept and the reuse reported.
 */
function batchResults(entries: Entry[], seen: { device_id: string; seq: number | string; id: string }[], inserted: { id: string }[]): InsertedEvents[] {
  const idsAt = new Map<string, Set<string>>();
  for (const row of seen) {
    const k = key(row.device_id, Number(row.seq));
    idsAt.set(k, (idsAt.get(k) ?? new Set()).add(row.id));
  }
  const newIds = new Set(inserted.map((row) => row.id));
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

/**
 * The event batch's two statements, the default console's hot path, as SQL text kept per shape:
 * building them with Kysely for every batch (280 parameters for 40 events) cost more than running
 * them. One text for both engines (INSERT … ON CONFLICT (id) DO NOTHING RETURNING: SQLite 3.35+
 * and PostgreSQL); only the parameter markers differ. The columns are ConsoleTables['events']'s,
 * and the contract tests run both statements on both engines.
 */
export class EventBatchTexts {
  private readonly texts = new Map<string, string>();

  constructor(private readonly engine: Engine['kind']) {}

  /**
   * Ids stored under each of `pairs` (device id, sequence number) parameter pairs: one index probe
   * each (an IN list of devices and one of numbers would probe every combination of the two).
   */
  seen(pairs: number): string {
    return this.text(`s${pairs}`, (m) => {
      const each = Array.from({ length: pairs }, (_, i) => `(device_id = ${m(2 * i, 1)} AND seq = ${m(2 * i + 1, 1)})`).join(' OR ');
      return `SELECT device_id, seq, id FROM events WHERE ${each}`;
    });
  }

  /** `rows` events, each row's parameters in EVENT_COLUMNS order; returns the ids stored now. */
  insert(rows: number): string {
    const n = EVENT_COLUMNS.length;
    return this.text(`i${rows}`, (m) => {
      const values = Array.from({ length: rows }, (_, r) => `(${m(r * n, n)})`).join(', ');
      return `INSERT INTO events (${EVENT_COLUMNS.join(', ')}) VALUES ${values} ON CONFLICT (id) DO NOTHING RETURNING id`;
    });
  }

  /**
   * PostgreSQL only: `seen(pairs)` and `insert(rows)` in one statement, pairs' parameters first.
   * Every part of a WITH statement reads the snapshot from before its insert, so the lookup sees
   * what was stored before this batch, as the lookup before the insert in one transaction did.
   * Rows found carry their device id; the ids stored now come back with a null device id.
   */
  seenAndInsert(pairs: number, rows: number): string {
    if (this.engine !== 'postgres') throw new Error('one-statement event batches are PostgreSQL only');
    return this.text(`si${pairs}/${rows}`, (m) => {
      const lookup = this.seen(pairs);
      const n = EVENT_COLUMNS.length;
      const values = Array.from({ length: rows }, (_, r) => `(${m(2 * pairs + r * n, n)})`).join(', ');
      return (
        `WITH seen AS (${lookup}), stored AS (INSERT INTO events (${EVENT_COLUMNS.join(', ')}) VALUES ${values} ON CONFLICT (id) DO NOTHING RETURNING id) ` +
        'SELECT device_id, seq, id FROM seen UNION ALL SELECT NULL, NULL, id FROM stored'
      );
    });
  }

  private text(key: string, build: (markers: (from: number, count: number) => string) => string): string {
    let text = this.texts.get(key);
    if (text === undefined) {
      const marker = this.engine === 'postgres' ? (i: number) => `$${i + 1}` : () => '?';
      text = build((from, count) => Array.from({ length: count }, (_, i) => marker(from + i)).join(', '));
      this.texts.set(key, text);
    }
    return text;
  }
}

/** In the order insertBatch lays out each row's parameters. */
const EVENT_COLUMNS = ['id', 'device_id', 'seq', 'type', 'at', 'received_at', 'body'] as const satisfies readonly (keyof ConsoleTables['events'])[];
