import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { AupRecord, PolicyRecord } from '../../../src/console/store/store.js';
import { enrollTestDevices } from '../../helpers/console-store.js';
import { deviceRecord } from '../../../bench/device-record.js';
import type { StoreFactory } from './contract.js';

const SIG = { alg: 'ed25519' as const, keyId: '0123456789abcdef', value: `${'A'.repeat(86)}==` };
const HASH = 'a'.repeat(64);

async function storeWithDevices(factory: StoreFactory, hostnames: string[]) {
  const opened = await factory.open();
  return { ...opened, devices: await enrollTestDevices(opened.store, hostnames) };
}

function policy(version: number): PolicyRecord {
  const doc = { format: 'vigil-policy/1' as const, name: `p${version}`, agent: { heartbeatSeconds: 30, statusSeconds: 60 } };
  const at = new Date().toISOString();
  return {
    version,
    document: doc,
    publishedBy: 'admin',
    publishedAt: at,
    bundle: { payload: { kind: 'vigil.policy-bundle' as const, version, issuedAt: at, expiresAt: at, policy: doc }, signature: SIG },
  };
}

function aup(variant: string, version: number): AupRecord {
  const at = new Date().toISOString();
  return {
    variant,
    version,
    publishedBy: 'admin',
    publishedAt: at,
    signed: { payload: { kind: 'vigil.aup', variant, version, title: 'AUP', markdown: 'Be kind.', publishedAt: at }, signature: SIG },
  };
}

function receipt(deviceId: string, user: string, variant: string, version: number, acceptedAt: string) {
  return {
    payload: { kind: 'vigil.aup-receipt' as const, deviceId, user, variant, version, aupHash: HASH, typedName: 'Pat Pupil', acceptedAt },
    signature: SIG,
  };
}

/** Every domain of the port, through the queries the engines could answer differently (JSON, flags, order, conflicts). */
export function storeDomainContract(factory: StoreFactory): void {
  describe('domains', () => {
    it('settings: set, overwrite, read back', async () => {
      const { store } = await factory.open();
      expect(await store.getSetting('k')).toBeNull();
      await store.setSetting('k', 'one');
      await store.setSetting('k', 'two');
      expect(await store.getSetting('k')).toBe('two');
      await store.close();
    });

    it('users and sessions: flags, order, counts, expiry', async () => {
      const { store } = await factory.open();
      await store.createUser({ username: 'zed', role: 'admin', passwordHash: 'x', createdAt: '2026-01-01T00:00:00.000Z', disabled: false });
      await store.createUser({ username: 'amy', role: 'safeguarding_lead', passwordHash: 'y', createdAt: '2026-01-01T00:00:00.000Z', disabled: true });
      expect((await store.listUsers()).map((u) => [u.username, u.disabled])).toEqual([
        ['amy', true],
        ['zed', false],
      ]);
      expect(await store.countUsers()).toBe(2);
      const session = { username: 'zed', role: 'admin' as const, createdAt: '2026-01-01T00:00:00.000Z', lastUsedAt: '2026-01-01T00:00:00.000Z' };
      await store.createSession({ ...session, tokenHash: 'old', expiresAt: '2026-01-01T01:00:00.000Z' });
      await store.createSession({ ...session, tokenHash: 'new', expiresAt: '2026-01-02T01:00:00.000Z' });
      await store.touchSession('new', '2026-01-01T00:30:00.000Z');
      expect((await store.getSession('new'))?.lastUsedAt).toBe('2026-01-01T00:30:00.000Z');
      expect(await store.deleteExpiredSessions('2026-01-01T12:00:00.000Z')).toBe(1);
      expect(await store.getSession('old')).toBeNull();
      await store.deleteSession('new');
      expect(await store.getSession('new')).toBeNull();
      await store.close();
    });

    it('enrollment tokens: revoke once, and a revoked token enrolls nobody', async () => {
      const { store } = await factory.open();
      await store.createEnrollToken({
        id: 't1',
        tokenHash: 'h1',
        label: 'l',
        createdBy: 'a',
        createdAt: '1',
        expiresAt: '2099-01-01T00:00:00Z',
        maxUses: 5,
        uses: 0,
        revoked: false,
      });
      expect((await store.getEnrollTokenByHash('h1'))?.maxUses).toBe(5);
      expect(await store.revokeEnrollToken('t1')).toBe(true);
      expect(await store.revokeEnrollToken('t1')).toBe(false);
      expect(await store.enrollDevice(deviceRecord(), 't1')).toBe(false);
      expect((await store.listEnrollTokens())[0]).toMatchObject({ revoked: true, uses: 0 });
      await store.close();
    });

    it('presence leases: the devices of a process whose lease lapsed are marked offline once; a live lease keeps its own', async () => {
      const { store, devices, reopen } = await storeWithDevices(factory, ['lab-01', 'lab-02', 'lab-03', 'lab-04']);
      const [a, b, c, d] = devices.map((x) => x.id) as [string, string, string, string];
      const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 9, 0, s)).toISOString();
      const onlineIds = async () =>
        (await store.listDevices())
          .filter((x) => x.online)
          .map((x) => x.id)
          .sort();
      expect(await store.renewLease('live', at(50))).toBe(false);
      expect(await store.renewLease('live', at(60))).toBe(true);
      expect(await store.renewLease('killed', at(20))).toBe(false);
      await store.markOnline(a, at(0), null, 'live');
      await store.markOnline(b, at(0), null, 'killed');
      await store.markOnline(c, at(0), null, 'killed');
      // Held by a process that never wrote a lease (a build from before leases): no live lease holds it.
      await store.markOnline(d, at(0), null, 'unknown');
      // Before the killed process's lease lapses, only the lease-less device is cleared.
      expect(await store.sweepLapsedLeases(at(10))).toEqual({ processes: [], devices: [d] });
      // c moved to the live process before the sweep: it stays online.
      await store.markOnline(c, at(15), null, 'live');
      // Two processes sweeping at once (one store each on a shared database): each device once.
      const other = factory.sharedByProcesses ? await reopen() : store;
      const sweeps = await Promise.all([store.sweepLapsedLeases(at(30)), other.sweepLapsedLeases(at(30))]);
      expect(sweeps.flatMap((s) => s.devices)).toEqual([b]);
      expect(sweeps.flatMap((s) => s.processes)).toEqual(['killed']);
      expect(await onlineIds()).toEqual([a, c].sort());
      // A process whose lease was swept while it still ran takes a new one and marks its devices online again.
      const lapsed = await store.sweepLapsedLeases(at(70));
      expect([lapsed.processes, lapsed.devices.sort()]).toEqual([['live'], [a, c].sort()]);
      expect(await store.renewLease('live', at(90))).toBe(false);
      await store.reclaimDevices('live', [a, c]);
      expect(await onlineIds()).toEqual([a, c].sort());
      expect(await store.sweepLapsedLeases(at(80))).toEqual({ processes: [], devices: [] });
      // A process that stops cleanly gives its lease up: its devices go at the next sweep.
      await store.releaseLease('live');
      expect((await store.sweepLapsedLeases(at(80))).devices.sort()).toEqual([a, c].sort());
      if (other !== store) await other.close();
      await store.close();
    });

    it('devices: one column of many devices in one batch, whether the values are few (a rollout) or many (heartbeats)', async () => {
      const { store, devices } = await storeWithDevices(factory, ['d1', 'd2', 'd3', 'd4', 'd5', 'd6']);
      const seen: [string, string][] = devices.map((d, i) => [d.id, `2026-01-01T00:00:2${i}.000Z`]);
      await store.touchDevices(seen);
      const versions: [string, number][] = devices.map((d, i) => [d.id, i % 2 === 0 ? 11 : 12]);
      await store.setPolicyVersions(versions);
      for (const [id, at] of seen) expect((await store.getDevice(id))?.lastSeenAt).toBe(at);
      for (const [id, version] of versions) expect((await store.getDevice(id))?.policyVersion).toBe(version);
      await store.setPolicyVersions(devices.map((d, i) => [d.id, 20 + i]));
      for (const [i, d] of devices.entries()) expect((await store.getDevice(d.id))?.policyVersion).toBe(20 + i);
      await store.close();
    });

    it('devices: presence, heartbeats in one batch, status, clone flags, revocation', async () => {
      const { store, devices } = await storeWithDevices(factory, ['lab-02', 'lab-01', 'lab-03']);
      const [a, b, c] = devices as [ReturnType<typeof deviceRecord>, ReturnType<typeof deviceRecord>, ReturnType<typeof deviceRecord>];
      expect((await store.listDevices()).map((d) => d.hostname)).toEqual(['lab-01', 'lab-02', 'lab-03']);
      await store.markOnline(a.id, '2026-01-01T00:00:00.000Z', '1.2.3', 'p1');
      await store.markOnline(a.id, '2026-01-01T00:00:01.000Z', null, 'p1');
      expect(await store.getDevice(a.id)).toMatchObject({ online: true, agentVersion: '1.2.3', lastSeenAt: '2026-01-01T00:00:01.000Z', policyVersion: null });
      // A hello's policy version is written with its presence; without one, the stored version stays.
      await store.markOnline(b.id, '2026-01-01T00:00:02.000Z', '1.2.4', 'p1', 9);
      await store.markOnline(b.id, '2026-01-01T00:00:03.000Z', null, 'p1');
      expect(await store.getDevice(b.id)).toMatchObject({ agentVersion: '1.2.4', policyVersion: 9, lastSeenAt: '2026-01-01T00:00:03.000Z' });
      const seen: [string, string][] = devices.map((d, i) => [d.id, `2026-01-01T00:00:1${i}.000Z`]);
      await store.touchDevices(seen);
      for (const [id, at] of seen) expect((await store.getDevice(id))?.lastSeenAt).toBe(at);
      // A disconnect noticed late by the process that held it does not undo another's online.
      await store.markOnline(a.id, '2026-01-01T00:00:30.000Z', null, 'p2');
      await store.markOffline(a.id, '2026-01-01T00:00:40.000Z', 'p1');
      expect(await store.getDevice(a.id)).toMatchObject({ online: true, lastSeenAt: '2026-01-01T00:00:30.000Z' });
      await store.markOffline(a.id, '2026-01-01T00:01:00.000Z', 'p2');
      expect((await store.getDevice(a.id))?.online).toBe(false);
      await store.markOnline(b.id, '2026-01-01T00:00:00.000Z', null, 'p1');
      await store.markAllOffline();
      expect((await store.listDevices()).some((d) => d.online)).toBe(false);
      await store.setCloneSuspect([b.id, c.id]);
      expect((await store.listDevices()).filter((d) => d.cloneSuspect).length).toBe(2);
      await store.setPolicyVersions([
        [c.id, 7],
        [b.id, 3],
      ]);
      expect((await store.getDevice(c.id))?.policyVersion).toBe(7);
      expect((await store.getDevice(b.id))?.policyVersion).toBe(3);
      expect((await store.getDevice(a.id))?.policyVersion).toBe(a.policyVersion ?? null);
      expect(await store.revokeDevice(c.id)).toBe(true);
      expect(await store.revokeDevice(c.id)).toBe(false);
      expect((await store.getDevice(c.id))?.revoked).toBe(true);
      expect(await store.findDevicesByMachineHint('none')).toEqual([]);
      await store.close();
    });

    it('events: filters, newest first, activity batches by send time, recent blocks by name', async () => {
      const { store, devices } = await storeWithDevices(factory, ['lab-01']);
      const d = devices[0]!;
      const spans = { spans: [{ start: '2026-01-01T08:59:00.000Z', durationMs: 1000, kind: 'idle', window: null }] };
      const ev = (seq: number, type: string, data: unknown, at: string) => ({ id: randomUUID(), seq, at, type, data }) as never;
      await store.insertEvents(
        d.id,
        [
          ev(1, 'diagnostic.test', { note: 'x', n: 1 }, '2026-01-01T08:00:00.000Z'),
          ev(2, 'activity.spans', spans, '2026-01-01T09:00:00.000Z'),
          ev(3, 'activity.spans', spans, '2026-01-01T10:00:00.000Z'),
        ],
        '2026-01-01T10:00:00.000Z',
      );
      expect((await store.listEvents({ limit: 10 })).map((e) => e.event.seq)).toEqual([3, 2, 1]);
      expect((await store.listEvents({ limit: 10, type: 'diagnostic.test' })).map((e) => e.event.seq)).toEqual([1]);
      expect((await store.listEvents({ limit: 10, deviceId: d.id, beforeSeq: 3 })).map((e) => e.event.seq)).toEqual([2, 1]);
      const batches = await store.listActivityBatches(d.id, { sentFrom: '2026-01-01T09:00:00.000Z', sentBefore: '2026-01-01T10:00:00.000Z', limit: 10 });
      expect(batches).toEqual([spans]);
      expect(await store.listRecentBlocks('2000-01-01T00:00:00.000Z', 10)).toEqual([]);
      // The block summary reads the program's name out of the stored JSON (each engine its own way).
      await store.insertEvents(d.id, [ev(4, 'app.blocked', { name: 'game.exe' }, '2026-01-01T11:00:00.000Z')], '2026-01-01T11:00:00.000Z');
      await store.insertEvents(d.id, [ev(5, 'app.blocked', { name: 'chat.exe' }, '2026-01-01T11:01:00.000Z')], '2026-01-01T11:01:00.000Z');
      expect(await store.listRecentBlocks('2026-01-01T11:00:30.000Z', 10)).toEqual([{ deviceId: d.id, at: '2026-01-01T11:01:00.000Z', name: 'chat.exe' }]);
      expect((await store.listRecentBlocks('2000-01-01T00:00:00.000Z', 10)).map((b) => b.name)).toEqual(['game.exe', 'chat.exe']);
      await store.close();
    });

    it('policies: a raised floor numbers the next version above it, never below', async () => {
      const { store } = await factory.open();
      expect(await store.latestPolicy()).toBeNull();
      expect((await store.publishPolicy(policy)).version).toBe(1);
      expect(await store.raisePolicyFloor(1)).toBe(false);
      expect(await store.raisePolicyFloor(10)).toBe(true);
      expect((await store.publishPolicy(policy)).version).toBe(11);
      expect((await store.listPolicies(5)).map((p) => p.version)).toEqual([11, 1]);
      await store.close();
    });

    it('AUPs: versions per variant, receipts once, coverage marks the current version, first acceptance', async () => {
      const { store, devices } = await storeWithDevices(factory, ['lab-01', 'lab-02']);
      const [a, b] = devices as [ReturnType<typeof deviceRecord>, ReturnType<typeof deviceRecord>];
      expect((await store.publishAup('pupils', (v) => aup('pupils', v))).version).toBe(1);
      expect((await store.publishAup('staff', (v) => aup('staff', v))).version).toBe(1);
      expect(await store.insertAupReceipt(receipt(a.id, 'pat', 'pupils', 1, '2026-01-02T00:00:00.000Z'), 'r')).toBe(true);
      expect(await store.insertAupReceipt(receipt(a.id, 'pat', 'pupils', 1, '2026-01-02T00:00:00.000Z'), 'r')).toBe(false);
      expect(await store.insertAupReceipt(receipt(b.id, 'pat', 'pupils', 1, '2026-01-01T00:00:00.000Z'), 'r')).toBe(true);
      expect((await store.publishAup('pupils', (v) => aup('pupils', v))).version).toBe(2);
      expect(await store.insertAupReceipt(receipt(a.id, 'pat', 'pupils', 2, '2026-01-03T00:00:00.000Z'), 'r')).toBe(true);
      expect((await store.latestAup('pupils'))?.version).toBe(2);
      expect((await store.aupVersion('pupils', 1))?.signed.payload.markdown).toBe('Be kind.');
      expect((await store.listAups()).map((x) => `${x.variant}/${x.version}`)).toEqual(['pupils/2', 'pupils/1', 'staff/1']);
      const coverage = await store.aupCoverage({ variant: 'pupils' });
      expect(coverage.map((r) => [r.version, r.hostname, r.current])).toEqual([
        [2, 'lab-01', true],
        [1, 'lab-02', false],
        [1, 'lab-01', false],
      ]);
      expect(await store.aupCoverage({ variant: 'staff' })).toEqual([]);
      expect(await store.aupAcceptedAt('pat', 'pupils', 1, HASH)).toBe('2026-01-01T00:00:00.000Z');
      expect(await store.aupAcceptedAt('sam', 'pupils', 1, HASH)).toBeNull();
      expect(await store.hasAupReceipt(b.id, 'pat', 'pupils', 1)).toBe(true);
      expect(await store.hasAupReceipt(b.id, 'pat', 'pupils', 2)).toBe(false);
      await store.close();
    });

    it('audit: newest first, per target, and once per id inside the detail', async () => {
      const { store } = await factory.open();
      const entry = (n: number) => ({
        at: `2026-01-01T00:00:0${n}.000Z`,
        actor: 'admin',
        action: 'station.scan',
        target: 'station:s1',
        detail: { reportId: `r${n}`, n },
      });
      expect(await store.appendAuditOnce(entry(1), 'reportId', 'r1')).toBe(true);
      expect(await store.appendAuditOnce(entry(1), 'reportId', 'r1')).toBe(false);
      expect(await store.appendAuditOnce(entry(2), 'reportId', 'r2')).toBe(true);
      await store.appendAudit({ at: '2026-01-01T00:00:09.000Z', actor: 'admin', action: 'user.create', target: null, detail: {} });
      expect((await store.listAudit(10)).map((e) => e.action)).toEqual(['user.create', 'station.scan', 'station.scan']);
      expect((await store.listAuditFor('station.scan', 'station:s1', 10)).map((e) => e.detail.n)).toEqual([2, 1]);
      await expect(store.appendAuditOnce(entry(3), "x') OR 1=1 --", 'r3')).rejects.toThrow(/bad JSON path/);
      await store.close();
    });

    it('queues: application requests and concerns once per event, decided only from pending, with hostnames', async () => {
      const { store, devices } = await storeWithDevices(factory, ['lab-07']);
      const d = devices[0]!;
      const request = {
        id: randomUUID(),
        deviceId: d.id,
        requestedAt: '2026-01-01T00:00:00.000Z',
        name: 'app',
        path: '/usr/bin/app',
        sha256: HASH,
        signer: '',
        user: 'pat',
        reason: null,
      };
      expect(await store.insertAppRequest(request)).toBe(true);
      expect(await store.insertAppRequest(request)).toBe(false);
      expect(await store.countPendingAppRequests(d.id)).toBe(1);
      const decision = { status: 'approved' as const, decidedBy: 'admin', decidedAt: '2026-01-01T00:01:00.000Z', note: null, policyVersion: 3 };
      expect(await store.decideAppRequest(request.id, decision)).toBe(true);
      expect(await store.decideAppRequest(request.id, { ...decision, status: 'declined' })).toBe(false);
      expect(await store.getAppRequest(request.id)).toMatchObject({ status: 'approved', hostname: 'lab-07', policyVersion: 3 });
      expect(await store.listAppRequests({ status: 'pending', limit: 10 })).toEqual([]);

      const concern = {
        id: randomUUID(),
        deviceId: d.id,
        user: null,
        reportedAt: '2026-01-01T00:00:00.000Z',
        category: 'other' as const,
        text: 'help',
        wantsContact: true,
      };
      expect(await store.insertConcern(concern, 'r')).toBe(true);
      expect(await store.insertConcern(concern, 'r')).toBe(false);
      expect(await store.updateConcern(concern.id, { status: 'open', note: 'called', updatedBy: 'dsl', updatedAt: '2026-01-01T00:00:00.000Z' })).toBe(true);
      // No note given: the one written before stays.
      expect(await store.updateConcern(concern.id, { status: 'closed', note: null, updatedBy: 'dsl', updatedAt: '2026-01-02T00:00:00.000Z' })).toBe(true);
      expect(await store.getConcern(concern.id)).toMatchObject({ status: 'closed', note: 'called', wantsContact: true, hostname: 'lab-07' });
      expect((await store.listConcerns({ status: 'closed', limit: 5 })).length).toBe(1);
      expect(await store.deleteConcernsClosedBefore('2026-01-03T00:00:00.000Z')).toBe(1);
      expect(await store.getConcern(concern.id)).toBeNull();
      await store.close();
    });

    it('stations and device history', async () => {
      const { store, devices } = await storeWithDevices(factory, ['lab-01']);
      const d = devices[0]!;
      const key = { id: 's1', publicKey: 'pk', keyId: 'kid', registeredBy: 'admin', registeredAt: '2026-01-01T00:00:00.000Z' };
      expect(await store.insertStationKey(key)).toBe(true);
      expect(await store.insertStationKey({ ...key, id: 's2' })).toBe(false);
      expect(await store.revokeStationKey('s1', 'admin', '2026-01-02T00:00:00.000Z')).toBe(true);
      expect(await store.revokeStationKey('s1', 'admin', '2026-01-02T00:00:00.000Z')).toBe(false);
      expect(await store.listStationKeys()).toEqual([{ ...key, revokedBy: 'admin', revokedAt: '2026-01-02T00:00:00.000Z' }]);

      await store.appendDeviceHistory(d.id, { at: '2026-01-01T00:00:00.000Z', kind: 'presence', presence: 'online' });
      await store.appendDeviceHistory(d.id, { at: '2026-01-02T00:00:00.000Z', kind: 'presence', presence: 'offline' });
      expect((await store.listDeviceHistory(d.id, { limit: 10, kind: 'presence' })).map((h) => (h.kind === 'presence' ? h.presence : ''))).toEqual([
        'offline',
        'online',
      ]);
      expect(await store.deleteDeviceHistoryBefore('2026-01-01T12:00:00.000Z')).toBe(1);
      expect((await store.listDeviceHistory(d.id, { limit: 10 })).length).toBe(1);
      await store.close();
    });

    it.runIf(factory.sharedByProcesses)('several processes: policy and AUP versions never collide, and each sees the latest', async () => {
      const { store, reopen } = await factory.open();
      const second = await reopen();
      expect(await second.latestPolicy()).toBeNull();
      const published = await Promise.all([...Array(6)].map((_, i) => (i % 2 ? store : second).publishPolicy(policy)));
      expect(published.map((p) => p.version).sort((x, y) => x - y)).toEqual([1, 2, 3, 4, 5, 6]);
      expect((await second.latestPolicy())?.version).toBe(6);
      expect((await store.latestPolicy())?.version).toBe(6);
      await Promise.all([store.publishAup('pupils', (v) => aup('pupils', v)), second.publishAup('pupils', (v) => aup('pupils', v))]);
      expect((await store.latestAup('pupils'))?.version).toBe(2);
      expect((await second.latestAup('pupils'))?.version).toBe(2);
      await second.close();
      await store.close();
    });
  });
}
