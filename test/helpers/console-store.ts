import { randomUUID } from 'node:crypto';
import { openSqliteStore, type SqliteStore } from '../../src/console/store/sqlite-store.js';
import type { DeviceRecord } from '../../src/console/store/store.js';
import { generateEd25519KeyPair } from '../../src/shared/node/crypto.js';

/** A real console database at `path` with one enrolled device (rows that name a device need one). */
export async function storeWithDevice(path: string, hostname = 'lab-01'): Promise<{ store: SqliteStore; device: DeviceRecord }> {
  const store = openSqliteStore(path);
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
  const device: DeviceRecord = {
    id: randomUUID(),
    publicKey: generateEd25519KeyPair().publicKey,
    hostname,
    platform: 'linux',
    machineIdHint: null,
    enrolledAt: new Date().toISOString(),
    enrolledWith: 'tok',
    revoked: false,
    cloneSuspect: false,
    online: false,
    lastSeenAt: null,
    agentVersion: null,
    policyVersion: null,
    status: null,
  };
  await store.enrollDevice(device, 'tok');
  return { store, device };
}
