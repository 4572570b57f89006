import Database from 'better-sqlite3';
import { migrate } from '../../../shared/node/migrations.js';
import { CONSOLE_MIGRATIONS } from '../migrations/index.js';

/** A row was refused because it repeats a unique key (told by SQLite's error code, not its wording). */
export function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/** Opens (creating if need be) the console database and brings its schema up to date. */
export function openConsoleDatabase(file: string): Database.Database {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  // NORMAL is durable against process crashes in WAL mode. Event inserts switch to FULL (see
  // the SQLite engine in sqlite-store.ts) because their acknowledgement lets the device delete its copy.
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  try {
    migrate(db, file, CONSOLE_MIGRATIONS);
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}
