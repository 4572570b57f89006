import Database from 'better-sqlite3';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ACCEPTANCE_MIGRATIONS, AcceptanceRecords } from '../../src/agent/aup/acceptances.js';
import { Outbox, OUTBOX_MIGRATIONS } from '../../src/agent/outbox.js';
import { CONSOLE_MIGRATIONS } from '../../src/console/store/migrations/index.js';
import { openSqliteStore } from '../../src/console/store/sqlite-store.js';
import { currentVersion, migrate, SchemaTooNewError, type Migration } from '../../src/shared/node/migrations.js';
import { tempDirsPerTest } from '../helpers/processes.js';

const tempPath = tempDirsPerTest();
const steps: Migration[] = [
  { version: 1, name: 'one', up: 'CREATE TABLE a (x INTEGER)' },
  { version: 2, name: 'two', up: 'CREATE TABLE b (y INTEGER)' },
];
const tables = (db: Database.Database) =>
  (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((r) => r.name);

describe('migration runner', () => {
  it('brings a fresh database to the latest version, recording each step', () => {
    const db = new Database(tempPath('fresh.db'));
    expect(migrate(db, 'fresh.db', steps)).toEqual({ from: 0, to: 2 });
    expect(tables(db)).toEqual(['a', 'b', 'schema_version']);
    expect(db.prepare('SELECT version, name FROM schema_version ORDER BY version').all() as unknown[]).toEqual([
      { version: 1, name: 'one' },
      { version: 2, name: 'two' },
    ]);
    expect(db.pragma('user_version', { simple: true })).toBe(2);
    // Running again changes nothing.
    expect(migrate(db, 'fresh.db', steps)).toEqual({ from: 2, to: 2 });
    db.close();
  });

  it('applies only the steps a database lacks', () => {
    const db = new Database(tempPath('upgrade.db'));
    migrate(db, 'upgrade.db', steps.slice(0, 1));
    db.prepare('INSERT INTO a (x) VALUES (7)').run();
    expect(migrate(db, 'upgrade.db', steps)).toEqual({ from: 1, to: 2 });
    expect(db.prepare('SELECT x FROM a').get()).toEqual({ x: 7 });
    db.close();
  });

  it('runs each step in its own transaction: a failing step leaves nothing of itself behind', () => {
    const db = new Database(tempPath('broken.db'));
    const broken: Migration[] = [steps[0]!, { version: 2, name: 'broken', up: 'CREATE TABLE c (z INTEGER); CREATE TABLE oops (' }];
    expect(() => migrate(db, 'broken.db', broken)).toThrow();
    expect(tables(db)).toEqual(['a', 'schema_version']);
    expect(currentVersion(db)).toBe(1);
    db.close();
  });

  it('refuses a database newer than the code, and leaves it as it was', () => {
    const file = tempPath('newer.db');
    const db = new Database(file);
    migrate(db, file, steps);
    db.prepare('INSERT INTO b (y) VALUES (1)').run();
    expect(() => migrate(db, file, steps.slice(0, 1))).toThrow(SchemaTooNewError);
    expect(() => migrate(db, file, steps.slice(0, 1))).toThrow(/schema version 2, newer than this build understands \(1\)/);
    expect(db.prepare('SELECT COUNT(*) AS n FROM b').get()).toEqual({ n: 1 });
    expect(currentVersion(db)).toBe(2);
    db.close();
  });

  it('refuses a list with gaps or out of order', () => {
    const db = new Database(tempPath('order.db'));
    expect(() => migrate(db, 'order.db', [steps[1]!, steps[0]!])).toThrow(/numbered 2, expected 1/);
    expect(tables(db)).toEqual([]);
    db.close();
  });

  it('adopts a database from before schema_version at its user_version', () => {
    const db = new Database(tempPath('legacy.db'));
    db.exec('CREATE TABLE a (x INTEGER)');
    db.pragma('user_version = 1');
    expect(migrate(db, 'legacy.db', steps)).toEqual({ from: 1, to: 2 });
    expect(db.prepare('SELECT version FROM schema_version ORDER BY version').all() as unknown[]).toEqual([{ version: 1 }, { version: 2 }]);
    db.close();
  });
});

describe('console database', () => {
  it('opens a data directory written by the console before this runner (schema 5) and keeps its data', async () => {
    const file = tempPath('console.db');
    copyFileSync(join(import.meta.dirname, 'fixtures/console-schema-v5.db'), file);
    const store = openSqliteStore(file);
    expect((await store.getUser('admin'))?.role).toBe('admin');
    expect((await store.getDevice('dev-1'))?.hostname).toBe('lab-01');
    expect((await store.listEvents({ limit: 10 })).map((e) => e.event.data)).toEqual([{ note: 'kept', n: 1 }]);
    expect((await store.listConcerns({ limit: 10 })).map((c) => c.text)).toEqual(['fixture concern']);
    expect((await store.listAppRequests({ status: 'pending', limit: 10 })).map((r) => r.name)).toEqual(['game']);
    expect((await store.listAudit(10)).map((a) => a.action)).toEqual(['fixture']);
    await store.close();
    const db = new Database(file);
    expect(currentVersion(db)).toBe(CONSOLE_MIGRATIONS.length);
    db.close();
  });

  it('refuses a console database from a newer build', () => {
    const file = tempPath('console.db');
    openSqliteStore(file).close();
    const db = new Database(file);
    db.prepare("INSERT INTO schema_version (version, name, applied_at) VALUES (?, 'from the future', '')").run(CONSOLE_MIGRATIONS.length + 1);
    db.close();
    expect(() => openSqliteStore(file)).toThrow(SchemaTooNewError);
  });
});

describe('agent databases', () => {
  it('versions an outbox written before versioning and keeps its queued events', () => {
    const file = tempPath('outbox.db');
    const old = new Database(file);
    // Exactly what the outbox created before it had a schema version.
    old.exec('CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, body TEXT NOT NULL)');
    old.close();
    const first = new Outbox(file);
    const [queued] = first.append([{ type: 'diagnostic.test', data: { note: 'queued', n: 1 } }]);
    first.close();
    const reopened = new Outbox(file);
    expect(reopened.pending(10).map((e) => e.id)).toEqual([queued!.id]);
    reopened.close();
    const db = new Database(file);
    expect(currentVersion(db)).toBe(OUTBOX_MIGRATIONS.length);
    db.close();
  });

  it('refuses agent databases from a newer build', () => {
    for (const [name, open, steps] of [
      ['outbox.db', (f: string) => new Outbox(f).close(), OUTBOX_MIGRATIONS.length],
      ['aup-acceptances.db', (f: string) => new AcceptanceRecords(f).close(), ACCEPTANCE_MIGRATIONS.length],
    ] as const) {
      const file = tempPath(name);
      open(file);
      const db = new Database(file);
      expect(currentVersion(db)).toBe(steps);
      db.prepare("INSERT INTO schema_version (version, name, applied_at) VALUES (?, 'from the future', '')").run(steps + 1);
      db.close();
      expect(() => open(file)).toThrow(SchemaTooNewError);
    }
  });
});
