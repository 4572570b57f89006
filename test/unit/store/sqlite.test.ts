import { describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../../src/console/store/sqlite-store.js';
import { tempDirsPerTest } from '../../helpers/processes.js';
import { storeContract } from './contract.js';

const tempPath = tempDirsPerTest();

storeContract('SQLite', {
  sharedByProcesses: false,
  async open() {
    const file = tempPath('console.db');
    return { store: openSqliteStore(file), reopen: async () => openSqliteStore(file) };
  },
});

describe('SqliteStore', () => {
  it('uses WAL journaling in a file under the data directory', async () => {
    const store = openSqliteStore(tempPath('console.db'));
    expect(store.journalMode()).toBe('wal');
    await store.close();
  });
});
