import { join } from 'node:path';
import { InvalidError } from '../errors.js';
import { openPostgresStore } from './postgres-store.js';
import { openSqliteStore } from './sqlite-store.js';
import type { ConsoleStore } from './store.js';

/** The embedded database's file in a console data directory. */
export const consoleDatabaseFile = (dataDir: string): string => join(dataDir, 'console.db');

/** Whether `url` names a PostgreSQL database (the only shared engine). */
export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//.test(url);
}

/**
 * The console's store: embedded SQLite in the data directory unless a PostgreSQL URL is given
 * (several console processes share one database; docs/scaling.md).
 */
export async function openConsoleStore(options: { dataDir: string; database?: string }): Promise<ConsoleStore> {
  if (options.database === undefined) return openSqliteStore(consoleDatabaseFile(options.dataDir));
  if (!isPostgresUrl(options.database)) throw new InvalidError('database-url', 'the database must be a postgres:// or postgresql:// URL');
  return openPostgresStore(options.database);
}
