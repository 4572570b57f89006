import { randomUUID } from 'node:crypto';
import { openSqliteStore, type SqliteStore } from '../../src/console/store/sqlite-store.js';
import type { ConsoleStore, DeviceRecord } from '../../src/console/store/store.js';
import { deviceRecord } from '../../bench/device-record.js';

/** The enrollment token `tok` that deviceRecord()s are enrolled with (any number of uses unless limited). */
export async function addTestToken(store: ConsoleStore, maxUses: number | null = null): Promise<void> {
  await store.createEnrollToken({
    id: 'tok',
    tokenHash: 'h',
    label: 'test',
    createdBy: 'admin',
    createdAt: '',
    expiresAt: '2099-01-01T00:00:00Z',
    maxUses,
    uses: 0,
    revoked: false,
  });
}

/** Enrolls one device per hostname with token `tok` (added here) and returns their records. */
export async function enrollTestDevices(store: ConsoleStore, hostnames: string[]): Promise<DeviceRecord[]> {
  await addTestToken(store);
  const devices = hostnames.map((h) => deviceRecord(randomUUID(), h));
  for (const d of devices) await store.enrollDevice(d, 'tok');
  return devices;
}

/** A real console database at `path` with one enrolled device (rows that name a device need one). */
export async function storeWithDevice(path: string, hostname = 'lab-01'): Promise<{ store: SqliteStore; device: DeviceRecord }> {
  const store = openSqliteStore(path);
  const [device] = await enrollTestDevices(store, [hostname]);
  return { store, device: device! };
}
