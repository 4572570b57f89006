import type { Expression, Kysely } from 'kysely';
import { changed, type StoreDb } from './engine.js';
import type { ConsoleTables } from './schema.js';

type QueueTable = 'app_requests' | 'concerns';
export type QueueRow<N extends QueueTable> = ConsoleTables[N] & { hostname: string };
/** The columns every queue table has; the queue's queries only name these. */
interface QueueColumns {
  id: string;
  device_id: string;
  status: string;
  [column: string]: unknown;
}

export interface QueueSpec<N extends QueueTable, T> {
  table: N;
  /** The column the queue is listed by, newest first. */
  timeColumn: keyof ConsoleTables[N] & string;
  toItem(row: QueueRow<N>): T;
}

/**
 * The one implementation of the console's work queues (pupils' application requests, pupils'
 * concerns): items keyed by the event id that raised them, so a resent event queues once; each
 * read joined to its device's hostname; listed newest first, optionally by status; changed only
 * from the status the caller expects.
 */
export class SqlQueue<N extends QueueTable, T> {
  /** The queue's table seen through its common columns (Kysely cannot type a table chosen at run time). */
  private readonly db: Kysely<{ queue: QueueColumns; devices: ConsoleTables['devices'] }>;
  private readonly table: 'queue';

  constructor(
    db: StoreDb,
    private readonly spec: QueueSpec<N, T>,
  ) {
    this.db = db as unknown as typeof this.db;
    this.table = spec.table as unknown as 'queue';
  }

  private select() {
    return this.db.selectFrom(`${this.table} as q`).innerJoin('devices as d', 'd.id', 'q.device_id').selectAll('q').select('d.hostname');
  }

  /** Queues an item; false if one with this id is queued already. */
  async add(values: ConsoleTables[N]): Promise<boolean> {
    const result = await this.db
      .insertInto(this.table)
      .values(values as unknown as QueueColumns)
      .onConflict((oc) => oc.doNothing())
      .executeTakeFirst();
    return changed(result) === 1;
  }

  async list(filter: { status?: string; limit: number }): Promise<T[]> {
    let query = this.select();
    if (filter.status) query = query.where('q.status', '=', filter.status);
    const rows = await query
      .orderBy(`q.${this.spec.timeColumn}` as 'q.id', 'desc')
      .limit(filter.limit)
      .execute();
    return rows.map((row) => this.spec.toItem(row as unknown as QueueRow<N>));
  }

  async get(id: string): Promise<T | null> {
    const row = await this.select().where('q.id', '=', id).executeTakeFirst();
    return row ? this.spec.toItem(row as unknown as QueueRow<N>) : null;
  }

  async count(deviceId: string, status: string): Promise<number> {
    const row = await this.db
      .selectFrom(this.table)
      .select((eb) => eb.fn.countAll().as('n'))
      .where('device_id', '=', deviceId)
      .where('status', '=', status)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** Applies `values` (plain values or expressions) to one item, only while it has status `from` when given; false if nothing changed. */
  async update(id: string, values: Record<string, unknown | Expression<unknown>>, from?: string): Promise<boolean> {
    let query = this.db
      .updateTable(this.table)
      .set(values as Partial<QueueColumns>)
      .where('id', '=', id);
    if (from) query = query.where('status', '=', from);
    return changed(await query.executeTakeFirst()) === 1;
  }
}
