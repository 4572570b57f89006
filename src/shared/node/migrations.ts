import type Database from 'better-sqlite3';

/** One schema change. Versions start at 1 and have no gaps; each runs once, in its own transaction. */
export interface Migration {
  version: number;
  /** Says what the step does, e.g. "initial" or "concerns"; kept in schema_version for whoever reads the file. */
  name: string;
  up: string;
}

export interface MigrationResult {
  from: number;
  to: number;
}

/** A database written by a newer build: opening it could lose or misread what that build wrote. */
export class SchemaTooNewError extends Error {
  constructor(
    readonly database: string,
    readonly found: number,
    readonly known: number,
  ) {
    super(`${database} has schema version ${found}, newer than this build understands (${known}); run a newer Vigil or restore a backup`);
    this.name = 'SchemaTooNewError';
  }
}

const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS schema_version (
  version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`;

/**
 * Brings a SQLite database up to the latest of `migrations`, the one way every Vigil database
 * (console and agent) is versioned. Applied versions are rows of `schema_version`; PRAGMA
 * user_version mirrors the highest, which is where builds before this runner kept it, so a
 * database they created is adopted at that version and keeps its data.
 */
export function migrate(db: Database.Database, database: string, migrations: readonly Migration[]): MigrationResult {
  checkOrder(database, migrations);
  const known = migrations.length;
  db.exec(CREATE_TABLE);
  const from = currentVersion(db);
  if (from > known) throw new SchemaTooNewError(database, from, known);
  adoptLegacyVersion(db, migrations);
  const insert = db.prepare('INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)');
  for (const m of migrations.slice(from)) {
    // IMMEDIATE: two processes opening one file (the agent service and its CLI) cannot both apply a step.
    db.transaction(() => {
      if (currentVersion(db) >= m.version) return;
      db.exec(m.up);
      insert.run(m.version, m.name, new Date().toISOString());
      db.pragma(`user_version = ${m.version}`);
    }).immediate();
  }
  return { from, to: currentVersion(db) };
}

/** Rows for the steps a pre-runner build applied (it counted them in user_version only). */
function adoptLegacyVersion(db: Database.Database, migrations: readonly Migration[]): void {
  const { n } = db.prepare('SELECT COUNT(*) AS n FROM schema_version').get() as { n: number };
  const legacy = db.pragma('user_version', { simple: true }) as number;
  if (n > 0 || legacy === 0) return;
  const insert = db.prepare("INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, 'before schema_version')");
  db.transaction(() => migrations.slice(0, legacy).forEach((m) => insert.run(m.version, m.name))).immediate();
}

/** The highest applied version; a database from before schema_version is taken at its user_version. */
export function currentVersion(db: Database.Database): number {
  const row = db.prepare('SELECT MAX(version) AS v FROM schema_version').get() as { v: number | null };
  if (row.v !== null) return row.v;
  return db.pragma('user_version', { simple: true }) as number;
}

export function checkOrder(database: string, migrations: readonly Migration[]): void {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`${database}: migration "${m.name}" is numbered ${m.version}, expected ${i + 1} (no gaps, in order)`);
  });
}
