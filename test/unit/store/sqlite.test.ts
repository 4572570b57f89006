import { existsSync, statSync } from 'node:fs';
import { Kysely, SqliteDialect } from 'kysely';
import { describe, expect, it } from 'vitest';
import type { ConsoleTables } from '../../../src/console/store/sql/schema.js';
import { openConsoleDatabase } from '../../../src/console/store/sqlite/database.js';
import { openSqliteStore } from '../../../src/console/store/sqlite-store.js';
import { tempDirsPerTest, waitUntil } from '../../helpers/processes.js';
import { storeContract } from './contract.js';

const tempPath = tempDirsPerTest();

storeContract('SQLite', {
  sharedByProcesses: false,
  async open() {
    const file = tempPath('console.db');
    return {
      store: openSqliteStore(file),
      reopen: async () => openSqliteStore(file),
      tables: async () => {
        const db = new Kysely<ConsoleTables>({ dialect: new SqliteDialect({ database: openConsoleDatabase(file) }) });
        return { db, close: () => db.destroy() };
      },
    };
  },
});

describe('SqliteStore', () => {
  it('uses WAL journaling in a file under the data directory', async () => {
    const store = openSqliteStore(tempPath('console.db'));
    expect(store.journalMode()).toBe('wal');
    await store.close();
  });

  it('leaves copying the log into the database file to its checkpoint thread: a big commit does not, the thread does, nothing is lost', async () => {
    const file = tempPath('console.db');
    // The thread's own turns are an hour apart here: only checkpointNow runs one.
    const store = openSqliteStore(file, { checkpointEveryMs: 3_600_000 });
    const big = 'x'.repeat(20_000_000);
    await store.setSetting('test.big', big);
    await store.setSetting('test.small', 'after');
    // SQLite's own checkpoint would have copied 20 MB in the commit that took the log past 1,000 pages.
    expect(statSync(file).size).toBeLessThan(5_000_000);
    expect(statSync(`${file}-wal`).size).toBeGreaterThan(20_000_000);
    const done = await store.checkpointNow();
    expect(done.checkpointed).toBe(done.log);
    expect(statSync(file).size).toBeGreaterThan(20_000_000);
    await store.close();
    const again = openSqliteStore(file);
    expect(await again.getSetting('test.big')).toBe(big);
    expect(await again.getSetting('test.small')).toBe('after');
    await again.close();
  });

  it('checkpoints on its own turns, and stops its thread when closed', async () => {
    const file = tempPath('console.db');
    const store = openSqliteStore(file, { checkpointEveryMs: 50 });
    await store.setSetting('test.big', 'y'.repeat(8_000_000));
    await waitUntil(() => statSync(file).size > 8_000_000, 5000);
    await store.close();
    // The last connection closed checkpoints what is left and removes the log.
    expect(existsSync(`${file}-wal`)).toBe(false);
  });
});
