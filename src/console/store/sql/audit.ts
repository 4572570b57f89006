import { sql, type Selectable } from 'kysely';
import type { AuditFilter, AuditRecord, AuditStore } from '../store.js';
import { changed, type Engine, type StoreDb } from './engine.js';
import type { ConsoleTables } from './schema.js';

export class SqlAudit implements AuditStore {
  constructor(
    private readonly db: StoreDb,
    private readonly engine: Engine,
  ) {}

  async appendAudit(entry: Omit<AuditRecord, 'id'>): Promise<void> {
    await this.db
      .insertInto('audit')
      .values({ at: entry.at, actor: entry.actor, action: entry.action, target: entry.target, detail: JSON.stringify(entry.detail) })
      .execute();
  }
  async listAudit(limit: number): Promise<AuditRecord[]> {
    return (await this.db.selectFrom('audit').selectAll().orderBy('id', 'desc').limit(limit).execute()).map(toAudit);
  }
  async queryAudit(filter: AuditFilter): Promise<AuditRecord[]> {
    let query = this.db.selectFrom('audit').selectAll();
    // A part match on lower-cased text; LIKE's wildcards in what was typed are escaped.
    for (const column of ['actor', 'action', 'target'] as const) {
      const wanted = filter[column]?.trim().toLowerCase();
      if (wanted)
        query = query.where(sql<boolean>`lower(coalesce(${sql.ref(column)}, '')) LIKE ${`%${wanted.replace(/[\\%_]/g, (c) => `\\${c}`)}%`} ESCAPE '\\'`);
    }
    if (filter.from) query = query.where('at', '>=', filter.from);
    if (filter.to) query = query.where('at', '<=', filter.to);
    return (await query.orderBy('id', 'desc').limit(filter.limit).execute()).map(toAudit);
  }
  async appendAuditOnce(entry: Omit<AuditRecord, 'id'>, idField: string, id: string): Promise<boolean> {
    const seen = this.engine.jsonText('detail', [idField]);
    // One statement, so two deliveries of the same report cannot both insert.
    const result = await this.db
      .insertInto('audit')
      .columns(['at', 'actor', 'action', 'target', 'detail'])
      .expression(
        this.db
          .selectNoFrom([
            sql<string>`${entry.at}`.as('at'),
            sql<string>`${entry.actor}`.as('actor'),
            sql<string>`${entry.action}`.as('action'),
            sql<string | null>`${entry.target}`.as('target'),
            sql<string>`${JSON.stringify(entry.detail)}`.as('detail'),
          ])
          .where(({ not, exists, selectFrom }) =>
            not(
              exists(
                selectFrom('audit')
                  .select('id')
                  .where('action', '=', entry.action)
                  .where(() => sql<boolean>`${seen} = ${id}`),
              ),
            ),
          ),
      )
      .executeTakeFirst();
    return changed(result) === 1;
  }
  async listAuditFor(action: string, target: string, limit: number): Promise<AuditRecord[]> {
    return (
      await this.db.selectFrom('audit').selectAll().where('action', '=', action).where('target', '=', target).orderBy('id', 'desc').limit(limit).execute()
    ).map(toAudit);
  }
}

function toAudit(row: Selectable<ConsoleTables['audit']>): AuditRecord {
  return {
    id: Number(row.id),
    at: row.at,
    actor: row.actor,
    action: row.action,
    target: row.target,
    detail: JSON.parse(row.detail) as Record<string, unknown>,
  };
}
