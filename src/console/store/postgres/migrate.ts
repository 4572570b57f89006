import type pg from 'pg';
import { checkOrder, SchemaTooNewError, type MigrationResult } from '../../../shared/node/migrations.js';
import type { ConsoleMigration } from '../migrations/migration.js';

/** pg_advisory_xact_lock key for schema changes ("vig", 1): one migrating process at a time. */
const SCHEMA_LOCK = 0x76_69_67_00_01;

/**
 * Brings a PostgreSQL database up to the latest console migration: the same steps, numbers and
 * schema_version table as the SQLite runner (shared/node/migrations.ts), each step in its own
 * transaction. Console processes starting together on one database take an advisory lock, so a
 * step is applied once and the others wait and see it done.
 */
export async function migratePostgres(client: pg.PoolClient, database: string, migrations: readonly ConsoleMigration[]): Promise<MigrationResult> {
  checkOrder(database, migrations);
  const known = migrations.length;
  let from = -1;
  for (;;) {
    await client.query('BEGIN');
    try {
      await client.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK]);
      await client.query('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
      const current = Number((await client.query<{ v: number | null }>('SELECT MAX(version) AS v FROM schema_version')).rows[0]?.v ?? 0);
      if (from < 0) from = current;
      if (current > known) throw new SchemaTooNewError(database, current, known);
      const next = migrations[current];
      if (!next) {
        await client.query('COMMIT');
        return { from, to: current };
      }
      await client.query(next.postgres);
      await client.query('INSERT INTO schema_version (version, name, applied_at) VALUES ($1, $2, $3)', [next.version, next.name, new Date().toISOString()]);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK');
      throw error;
    }
  }
}
