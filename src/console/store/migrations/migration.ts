import type { Migration } from '../../../shared/node/migrations.js';

/**
 * One step of the console schema for both engines, side by side in one file: `up` is the SQLite
 * text (run by shared/node/migrations.ts), `postgres` the same tables for PostgreSQL (run by
 * postgres/migrate.ts). Same names and column types as far as the engines allow (integer flags,
 * text times), so store/sql/ queries both with one Kysely query. Differences: identity columns
 * instead of INTEGER PRIMARY KEY, BIGINT for sequence numbers and versions, "user" quoted.
 */
export interface ConsoleMigration extends Migration {
  postgres: string;
}
