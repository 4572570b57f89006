import type { AuditFilter, AuditRecord, AuditStore } from '../store.js';
import { nullableText, type Db, type Row } from './database.js';

export class SqliteAudit implements AuditStore {
  constructor(private readonly db: Db) {}

  async appendAudit(entry: Omit<AuditRecord, 'id'>): Promise<void> {
    this.db
      .prepare('INSERT INTO audit (at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)')
      .run(entry.at, entry.actor, entry.action, entry.target, JSON.stringify(entry.detail));
  }
  async listAudit(limit: number): Promise<AuditRecord[]> {
    return (this.db.prepare('SELECT * FROM audit ORDER BY id DESC LIMIT ?').all(limit) as Row[]).map(toAudit);
  }
  async queryAudit(filter: AuditFilter): Promise<AuditRecord[]> {
    const where: string[] = [];
    const args: (string | number)[] = [];
    // instr() on lower-cased text: a part match with no LIKE wildcards to escape.
    for (const column of ['actor', 'action', 'target'] as const) {
      const wanted = filter[column]?.trim();
      if (wanted) (where.push(`instr(lower(coalesce(${column}, '')), ?) > 0`), args.push(wanted.toLowerCase()));
    }
    if (filter.from) (where.push('at >= ?'), args.push(filter.from));
    if (filter.to) (where.push('at <= ?'), args.push(filter.to));
    const sql = `SELECT * FROM audit ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
    return (this.db.prepare(sql).all(...args, filter.limit) as Row[]).map(toAudit);
  }
  async appendAuditOnce(entry: Omit<AuditRecord, 'id'>, idField: string, id: string): Promise<boolean> {
    if (!/^[A-Za-z][A-Za-z0-9]*$/.test(idField)) throw new Error(`bad audit id field ${idField}`);
    // One statement, so two deliveries of the same report cannot both insert.
    return (
      this.db
        .prepare(
          `INSERT INTO audit (at, actor, action, target, detail) SELECT ?, ?, ?, ?, ?
           WHERE NOT EXISTS (SELECT 1 FROM audit WHERE action = ? AND json_extract(detail, '$.${idField}') = ?)`,
        )
        .run(entry.at, entry.actor, entry.action, entry.target, JSON.stringify(entry.detail), entry.action, id).changes === 1
    );
  }
  async listAuditFor(action: string, target: string, limit: number): Promise<AuditRecord[]> {
    return (this.db.prepare('SELECT * FROM audit WHERE action = ? AND target = ? ORDER BY id DESC LIMIT ?').all(action, target, limit) as Row[]).map(toAudit);
  }
}

function toAudit(row: Row): AuditRecord {
  return {
    id: Number(row.id),
    at: String(row.at),
    actor: String(row.actor),
    action: String(row.action),
    target: nullableText(row.target),
    detail: JSON.parse(String(row.detail)) as Record<string, unknown>,
  };
}
