import type Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { sql, type Kysely } from 'kysely';
import { ConflictError, InvalidError } from '../errors.js';
import { openPostgresDatabase } from './postgres-store.js';
import { openConsoleDatabase } from './sqlite/database.js';

/** Parameters per INSERT: PostgreSQL allows 65 535. */
const PARAMETERS_PER_INSERT = 30_000;

type LooseDb = Kysely<Record<string, Record<string, unknown>>>;

/**
 * Copies a console's embedded SQLite database into an empty PostgreSQL database (`vigil console
 * migrate --to`). Both are first brought to this build's schema, so they have the same tables and
 * columns; every table is copied, whatever domains the build has, parents before the rows that
 * name them, in one transaction: a failed copy leaves the target empty. Returns rows per table.
 */
export async function copySqliteToPostgres(file: string, url: string): Promise<Record<string, number>> {
  if (!existsSync(file)) throw new InvalidError('no-source', `${file} does not exist: nothing to copy`);
  const source = openConsoleDatabase(file);
  try {
    const target = await openPostgresDatabase(url, { poolSize: 1 });
    try {
      return await target.db.transaction().execute(async (trx) => {
        const db = trx as unknown as LooseDb;
        const tables = tablesParentsFirst(source);
        await refuseNonEmpty(db, tables);
        const copied: Record<string, number> = {};
        for (const table of tables) copied[table] = await copyTable(source, db, table);
        await restartIdentities(db);
        return copied;
      });
    } finally {
      await target.close();
    }
  } finally {
    source.close();
  }
}

/** The console's tables (not the migration record), each after the tables its foreign keys name. */
function tablesParentsFirst(source: Database.Database): string[] {
  const names = (
    source.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'schema_version' ORDER BY name").all() as {
      name: string;
    }[]
  ).map((r) => r.name);
  const parents = new Map(
    names.map((name) => [
      name,
      (source.prepare('SELECT "table" AS parent FROM pragma_foreign_key_list(?)').all(name) as { parent: string }[]).map((r) => r.parent),
    ]),
  );
  const ordered: string[] = [];
  const visit = (name: string, path: string[]) => {
    if (ordered.includes(name)) return;
    if (path.includes(name)) throw new Error(`foreign keys form a cycle: ${[...path, name].join(' → ')}`);
    for (const parent of parents.get(name) ?? []) if (parent !== name) visit(parent, [...path, name]);
    ordered.push(name);
  };
  names.forEach((name) => visit(name, []));
  return ordered;
}

async function refuseNonEmpty(db: LooseDb, tables: string[]): Promise<void> {
  for (const table of tables) {
    const row = await db
      .selectFrom(table)
      .select(sql<number>`1`.as('one'))
      .limit(1)
      .executeTakeFirst();
    if (row) throw new ConflictError('target-not-empty', `the target database already holds data (table ${table}); migrate only into an empty database`);
  }
}

async function copyTable(source: Database.Database, db: LooseDb, table: string): Promise<number> {
  const columns = (source.prepare('SELECT name FROM pragma_table_info(?)').all(table) as { name: string }[]).map((r) => r.name);
  const rowsPerInsert = Math.max(1, Math.floor(PARAMETERS_PER_INSERT / columns.length));
  const select = source.prepare(`SELECT ${columns.map((c) => `"${c}"`).join(', ')} FROM "${table}"`);
  let batch: Record<string, unknown>[] = [];
  let count = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    await db.insertInto(table).values(batch).execute();
    count += batch.length;
    batch = [];
  };
  for (const row of select.iterate() as IterableIterator<Record<string, unknown>>) {
    batch.push(row);
    if (batch.length >= rowsPerInsert) await flush();
  }
  await flush();
  return count;
}

/** Identity columns continue after the copied ids, or the next insert would collide with one. */
async function restartIdentities(db: LooseDb): Promise<void> {
  const { rows } = await sql<{ table_name: string; column_name: string }>`
    SELECT table_name, column_name FROM information_schema.columns
    WHERE table_schema = current_schema() AND is_identity = 'YES'`.execute(db);
  for (const { table_name, column_name } of rows) {
    await sql`SELECT setval(pg_get_serial_sequence(${table_name}, ${column_name}), COALESCE((SELECT MAX(${sql.ref(column_name)}) FROM ${sql.table(table_name)}), 0) + 1, false)`.execute(
      db,
    );
  }
}
