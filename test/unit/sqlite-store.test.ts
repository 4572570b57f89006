import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { openSqliteStore, type SqliteStore } from '../../src/console/store/sqlite-store.js';
import type { DeviceRecord } from '../../src/console/store/store.js';
import { generateEd25519KeyPair } from '../../src/shared/crypto.js';
import { tempDirsPerTest } from '../helpers/processes.js';

const tempPath = tempDirsPerTest();
function open(): { store: SqliteStore; file: string } {
  const file = tempPath('console.db');
  return { store: openSqliteStore(file), file };
}
function device(id = randomUUID()): DeviceRecord {
  return {
    id, publicKey: generateEd25519KeyPair().publicKey, hostname: 'lab-01', platform: 'linux', machineIdHint: null,
    enrolledAt: new Date().toISOString(), enrolledWith: 'tok', revoked: false, cloneSuspect: false, online: false,
    lastSeenAt: null, agentVersion: null, policyVersion: null, status: null,
  };
}
async function withToken(store: SqliteStore, maxUses: number | null = null) {
  await store.createEnrollToken({ id: 'tok', tokenHash: 'h', label: 'test', createdBy: 'admin', createdAt: '', expiresAt: '2099-01-01T00:00:00Z', maxUses, uses: 0, revoked: false });
}

const event = (seq: number) => ({ id: randomUUID(), seq, at: new Date().toISOString(), type: 'diagnostic.test' as const, data: { note: 'x', n: seq } });
async function withDevice() {
  const { store } = open();
  await withToken(store);
  const d = device();
  await store.enrollDevice(d, 'tok');
  return { store, d };
}

describe('SqliteStore', () => {
  it('uses WAL journaling in a file under the data directory', async () => {
    const { store } = open();
    expect(store.journalMode()).toBe('wal');
    await store.close();
  });

  it('stores each event once, whatever is resent', async () => {
    const { store, d } = await withDevice();
    const batch = [event(1), event(2)];
    expect((await store.insertEvents(d.id, batch, new Date().toISOString())).stored.length).toBe(2);
    expect((await store.insertEvents(d.id, [...batch, event(3)], new Date().toISOString())).stored.map((e) => e.seq)).toEqual([3]);
    expect(await store.countEvents(d.id)).toBe(3);
    // A device that lost its last writes (power cut) reuses a sequence number for a new event:
    // the event is kept, and the reuse reported.
    const reused = await store.insertEvents(d.id, [event(3)], new Date().toISOString());
    expect(reused.stored.length).toBe(1);
    expect(reused.reusedSeqs).toEqual([3]);
    expect(await store.countEvents(d.id)).toBe(4);
    await store.close();
  });

  it('deletes events past retention', async () => {
    const { store, d } = await withDevice();
    await store.insertEvents(d.id, [event(1)], '2020-01-01T00:00:00.000Z');
    await store.insertEvents(d.id, [event(2)], new Date().toISOString());
    expect(await store.deleteEventsReceivedBefore('2021-01-01T00:00:00.000Z')).toBe(1);
    expect((await store.listEvents({ limit: 10 })).map((e) => e.event.seq)).toEqual([2]);
    await store.close();
  });

  it('never lets a limited enrollment token be over-used', async () => {
    const { store } = open();
    await withToken(store, 2);
    expect(await store.enrollDevice(device(), 'tok')).toBe(true);
    expect(await store.enrollDevice(device(), 'tok')).toBe(true);
    expect(await store.enrollDevice(device(), 'tok')).toBe(false);
    expect((await store.listDevices()).length).toBe(2);
    await store.close();
  });

  it('hands out policy versions that only ever increase, across restarts', async () => {
    const { store, file } = open();
    const doc = { format: 'vigil-policy/1' as const, name: 'p', agent: { heartbeatSeconds: 30, statusSeconds: 60 } };
    const build = (version: number) => ({
      version, document: doc, publishedBy: 'admin', publishedAt: new Date().toISOString(),
      bundle: { payload: { kind: 'vigil.policy-bundle' as const, version, issuedAt: new Date().toISOString(), expiresAt: new Date().toISOString(), policy: doc }, signature: { alg: 'ed25519' as const, keyId: '0123456789abcdef', value: `${'A'.repeat(86)}==` } },
    });
    expect((await store.publishPolicy(build)).version).toBe(1);
    expect((await store.publishPolicy(build)).version).toBe(2);
    await store.close();
    const reopened = openSqliteStore(file);
    expect((await reopened.publishPolicy(build)).version).toBe(3);
    expect((await reopened.latestPolicy())?.version).toBe(3);
    await reopened.close();
  });
});
