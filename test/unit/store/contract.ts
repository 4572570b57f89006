import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConflictError } from '../../../src/console/errors.js';
import type { ConsoleStore, DeviceRecord } from '../../../src/console/store/store.js';
import { addTestToken } from '../../helpers/console-store.js';
import { deviceRecord } from '../../helpers/device-record.js';
import { policyPlaneContract } from './policy-plane-contract.js';
import { accountsContract } from './accounts-contract.js';
import { storeDomainContract } from './contract-domains.js';

/**
 * The behaviour every console store must have, whatever the database. Each adapter's test file
 * runs it with its own factory (sqlite.test.ts; a PostgreSQL adapter adds postgres.test.ts).
 */
export interface StoreFactory {
  /**
   * A new, empty, migrated store, and a way to open the same database again: after close() a
   * restart; while the first is open, a second console process on the same database.
   */
  open(): Promise<{ store: ConsoleStore; reopen(): Promise<ConsoleStore> }>;
  /** Whether several console processes may write the database at once (PostgreSQL; not embedded SQLite). */
  sharedByProcesses: boolean;
}

export function device(id = randomUUID()): DeviceRecord {
  return deviceRecord(id);
}

const event = (seq: number) => ({ id: randomUUID(), seq, at: new Date().toISOString(), type: 'diagnostic.test' as const, data: { note: 'x', n: seq } });

export function storeContract(name: string, factory: StoreFactory): void {
  describe(`console store contract: ${name}`, () => {
    const open = () => factory.open();
    describe('accounts', () => accountsContract(open));
    const withToken = addTestToken;
    async function withDevice() {
      const { store } = await open();
      await withToken(store);
      const d = device();
      await store.enrollDevice(d, 'tok');
      return { store, d };
    }

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
      const { store } = await open();
      await withToken(store, 2);
      expect(await store.enrollDevice(device(), 'tok')).toBe(true);
      expect(await store.enrollDevice(device(), 'tok')).toBe(true);
      expect(await store.enrollDevice(device(), 'tok')).toBe(false);
      expect((await store.listDevices()).length).toBe(2);
      await store.close();
    });

    it('refuses a device key that is enrolled already with a typed conflict, and changes nothing', async () => {
      const { store, d } = await withDevice();
      const twin = { ...device(), publicKey: d.publicKey };
      await expect(store.enrollDevice(twin, 'tok')).rejects.toMatchObject({ kind: 'conflict', code: 'key-in-use' });
      await expect(store.enrollDevice(twin, 'tok')).rejects.toBeInstanceOf(ConflictError);
      expect((await store.listDevices()).map((x) => x.id)).toEqual([d.id]);
      expect((await store.listEnrollTokens())[0]!.uses).toBe(1);
      await store.close();
    });

    it('hands out policy versions that only ever increase, across restarts', async () => {
      const { store, reopen } = await open();
      const doc = { format: 'vigil-policy/1' as const, name: 'p', agent: { heartbeatSeconds: 30, statusSeconds: 60 } };
      const build = (version: number) => ({
        version,
        document: doc,
        publishedBy: 'admin',
        publishedAt: new Date().toISOString(),
        bundle: {
          payload: { kind: 'vigil.policy-bundle' as const, version, issuedAt: new Date().toISOString(), expiresAt: new Date().toISOString(), policy: doc },
          signature: { alg: 'ed25519' as const, keyId: '0123456789abcdef', value: `${'A'.repeat(86)}==` },
        },
      });
      expect((await store.publishPolicy(build)).version).toBe(1);
      expect((await store.publishPolicy(build)).version).toBe(2);
      await store.close();
      const reopened = await reopen();
      expect((await reopened.publishPolicy(build)).version).toBe(3);
      expect((await reopened.latestPolicy())?.version).toBe(3);
      await reopened.close();
    });

    policyPlaneContract(open);
    it('stores a batch larger than one statement holds, each event once, and a resend of it stores nothing', async () => {
      const { store, d } = await withDevice();
      const batch = Array.from({ length: 1200 }, (_, i) => event(i + 1));
      expect((await store.insertEvents(d.id, batch, new Date().toISOString())).stored.length).toBe(1200);
      const again = await store.insertEvents(d.id, batch, new Date().toISOString());
      expect(again).toEqual({ stored: [], reusedSeqs: [] });
      expect(await store.countEvents(d.id)).toBe(1200);
      await store.close();
    });

    it('stores a batch sent through two console processes at once exactly once, committed when the call returns', async () => {
      const { store, reopen } = await open();
      await withToken(store);
      const d = device();
      await store.enrollDevice(d, 'tok');
      const second = await reopen();
      const batch = Array.from({ length: 50 }, (_, i) => event(i + 1));
      // The device's link moved from one process to another with the batch unacknowledged: both store it,
      // at once where processes share the database (embedded SQLite has one writing process, so in turn).
      const insert = (s: ConsoleStore) => s.insertEvents(d.id, batch, new Date().toISOString());
      const [a, b] = factory.sharedByProcesses ? await Promise.all([insert(store), insert(second)]) : [await insert(store), await insert(second)];
      expect(a.stored.length + b.stored.length).toBe(50);
      expect(new Set([...a.stored, ...b.stored].map((e) => e.id)).size).toBe(50);
      // Each process reads what the other committed (nothing waits in a buffer before the ack).
      expect(await store.countEvents(d.id)).toBe(50);
      expect(await second.countEvents(d.id)).toBe(50);
      await second.close();
      await store.close();
    });

    storeDomainContract(factory);
  });
}
