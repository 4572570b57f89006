import type { Db, Row } from './database.js';

export interface QueueSpec<T> {
  /** A table with id, device_id and status columns (fixed names from code, never from input). */
  table: string;
  /** The column the queue is listed by, newest first. */
  timeColumn: string;
  toItem(row: Row): T;
}

/**
 * The one implementation of the console's work queues (pupils' application requests, pupils'
 * concerns): items keyed by the event id that raised them, so a resent event queues once; each
 * read joined to its device's hostname; listed newest first, optionally by status; changed only
 * from the status the caller expects.
 */
export class SqliteQueue<T> {
  private readonly select: string;

  constructor(
    private readonly db: Db,
    private readonly spec: QueueSpec<T>,
  ) {
    this.select = `SELECT q.*, d.hostname FROM ${spec.table} q JOIN devices d ON d.id = q.device_id`;
  }

  /** Queues an item; false if one with this id is queued already. */
  add(values: Record<string, unknown>): boolean {
    const columns = Object.keys(values);
    const sql = `INSERT INTO ${this.spec.table} (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')}) ON CONFLICT DO NOTHING`;
    return this.db.prepare(sql).run(...Object.values(values)).changes === 1;
  }

  list(filter: { status?: string; limit: number }): T[] {
    const where = filter.status ? 'WHERE q.status = ?' : '';
    const args = filter.status ? [filter.status, filter.limit] : [filter.limit];
    return (this.db.prepare(`${this.select} ${where} ORDER BY q.${this.spec.timeColumn} DESC LIMIT ?`).all(...args) as Row[]).map(this.spec.toItem);
  }

  get(id: string): T | null {
    const row = this.db.prepare(`${this.select} WHERE q.id = ?`).get(id) as Row | undefined;
    return row ? this.spec.toItem(row) : null;
  }

  count(deviceId: string, status: string): number {
    return Number((this.db.prepare(`SELECT COUNT(*) AS n FROM ${this.spec.table} WHERE device_id = ? AND status = ?`).get(deviceId, status) as Row).n);
  }

  /**
   * Applies `assignments` (SQL "column = ?" pieces with their values) to one item, only while it
   * has status `from` when given; false if nothing changed.
   */
  update(id: string, assignments: [sql: string, value: unknown][], from?: string): boolean {
    const sql = `UPDATE ${this.spec.table} SET ${assignments.map(([a]) => a).join(', ')} WHERE id = ?${from ? ' AND status = ?' : ''}`;
    const args = [...assignments.map(([, v]) => v), id, ...(from ? [from] : [])];
    return this.db.prepare(sql).run(...args).changes === 1;
  }
}
