import { randomUUID } from 'node:crypto';
import { openSqliteStore, type SqliteStore } from '../../src/console/store/sqlite-store.js';
import type { ConsoleStore, DeviceRecord } from '../../src/console/store/store.js';
import { deviceRecord } from './device-record.js';

/** The enrollment token `tok` (unlimited, unexpired) that device-record.ts's devices enrolled with. */
export async function withEnrollToken(store: Pick<ConsoleStore, 'createEnrollToken'>): Promise<void> {
  await store.createEnrollToken({
    id: 'tok',
    tokenHash: 'h',
    label: 'test',
    createdBy: 'admin',
    createdAt: '',
    expiresAt: '2099-01-01T00:00:00Z',
    maxUses: null,
    uses: 0,
    revoked: false,
  });
}

/** A real console database at `path` with one enrolled device (rows that name a device need one). */
export async function storeWithDevice(path: string, hostname = 'lab-01'): Promise<{ store: SqliteStore; device: DeviceRecord }> {
  const store = openSqliteStore(path);
  await withEnrollToken(store);
  const device = deviceRecord(randomUUID(), hostname);
  await store.enrollDevice(device, 'tok');
  return { store, device };
}
