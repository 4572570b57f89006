import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConflictError } from '../../../src/console/errors.js';
import type { ConsoleStore, DeviceRecord } from '../../../src/console/store/store.js';
import type { StoreDb } from '../../../src/console/store/sql/engine.js';
import { addTestToken } from '../../helpers/console-store.js';
import { deviceRecord } from '../../../bench/device-record.js';
import { compressedBundlesContract } from './compressed-bundles-contract.js';
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
  open(): Promise<OpenedStore>;
  /** Whether several console processes may write the database at once (PostgreSQL; not embedded SQLite). */
  sharedByProcesses: boolean;
}

export interface OpenedStore {
  store: ConsoleStore;
  reopen(): Promise<ConsoleStore>;
  /** The store's tables opened beside it, for a test to look at (or damage) the rows as stored. */
  tables(): Promise<{ db: StoreDb; close(): Promise<void> }>;
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

    it("writes a batch of several devices' frames as if each frame were written alone, in order", async () => {
      const { store, d } = await withDevice();
      const other = device();
      await store.enrollDevice(other, 'tok');
      const at = new Date().toISOString();
      const [e1, e2] = [event(1), event(2)];
      await store.insertEvents(d.id, [e1], at);
      const reused = event(2);
      const results = await store.insertEventBatch([
        // e1 resent (stored already), e2 new
        { deviceId: d.id, events: [e1, e2], receivedAt: at },
        // The other device's seq 1 and 2 are its own, whatever d holds under them.
        { deviceId: other.id, events: [event(1), event(2)], receivedAt: at },
        // e2 again in the same batch: the first frame stored it, so this one stores nothing.
        { deviceId: d.id, events: [e2], receivedAt: at },
        // seq 2 again with another id (a device that lost its last writes): kept, and the reuse reported.
        { deviceId: d.id, events: [reused], receivedAt: at },
      ]);
      expect(results.map((r) => ({ stored: r.stored.map((e) => e.id), reusedSeqs: r.reusedSeqs }))).toEqual([
        { stored: [e2.id], reusedSeqs: [] },
        { stored: results[1]!.stored.map((e) => e.id), reusedSeqs: [] },
        { stored: [], reusedSeqs: [] },
        { stored: [reused.id], reusedSeqs: [2] },
      ]);
      expect(results[1]!.stored.map((e) => e.seq)).toEqual([1, 2]);
      expect(await store.countEvents(d.id)).toBe(3);
      expect(await store.countEvents(other.id)).toBe(2);
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

    it('filters the audit log by actor, action, target (part, any case) and time, newest first', async () => {
      const { store } = await open();
      const at = (minute: number) => `2026-12-01T09:${String(minute).padStart(2, '0')}:00.000Z`;
      await store.appendAudit({ at: at(1), actor: 'admin', action: 'device.revoked', target: 'dev-1', detail: {} });
      await store.appendAudit({ at: at(2), actor: 'Mr Jones', action: 'aup.published', target: 'aup:secondary:1', detail: {} });
      await store.appendAudit({ at: at(3), actor: 'admin', action: 'enroll-token.created', target: null, detail: { label: '100%_x' } });
      await store.appendAudit({ at: at(4), actor: 'admin', action: 'aup.published', target: 'aup:primary:1', detail: {} });
      const ids = async (filter: Parameters<ConsoleStore['queryAudit']>[0]) => (await store.queryAudit(filter)).map((e) => e.at.slice(14, 16));
      expect(await ids({ limit: 10 })).toEqual(['04', '03', '02', '01']);
      expect(await ids({ actor: 'JONES', limit: 10 })).toEqual(['02']);
      expect(await ids({ action: 'aup.', limit: 10 })).toEqual(['04', '02']);
      expect(await ids({ target: 'secondary', limit: 10 })).toEqual(['02']);
      // No wildcard meaning: "%" and "_" match themselves only.
      expect(await ids({ target: '%', limit: 10 })).toEqual([]);
      expect(await ids({ from: at(2), to: at(3), limit: 10 })).toEqual(['03', '02']);
      expect(await ids({ actor: 'admin', limit: 2 })).toEqual(['04', '03']);
      await store.close();
    });

    it('lists every account seen signed in on each device, from history and the current status', async () => {
      const { store, d } = await withDevice();
      const status = (user: string | null, users: string[]) => ({
        hostname: 'lab-01',
        os: { platform: 'linux', release: '6.1', distro: null, arch: 'x64' },
        user,
        users,
        uptimeSeconds: 1,
        agentVersion: '1',
        policyVersion: null,
        collectedAt: '2026-12-01T09:00:00.000Z',
      });
      await store.appendDeviceHistory(d.id, { at: '2026-12-01T09:00:00.000Z', kind: 'status', status: status('amy', ['amy']) } as never);
      await store.appendDeviceHistory(d.id, { at: '2026-12-01T10:00:00.000Z', kind: 'status', status: status('ben', ['ben', 'amy']) } as never);
      await store.appendDeviceHistory(d.id, { at: '2026-12-01T11:00:00.000Z', kind: 'status', status: status(null, []) } as never);
      await store.saveStatus(d.id, status('cat', ['cat']), '2026-12-01T12:00:00.000Z');
      expect(await store.usersSeen()).toEqual([
        { deviceId: d.id, user: 'amy', lastSeenAt: '2026-12-01T10:00:00.000Z' },
        { deviceId: d.id, user: 'ben', lastSeenAt: '2026-12-01T10:00:00.000Z' },
        { deviceId: d.id, user: 'cat', lastSeenAt: '2026-12-01T12:00:00.000Z' },
      ]);
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
    compressedBundlesContract(open);
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
