import { describe, expect, it } from 'vitest';
import { DeviceSync } from '../../src/console/agent-link/device-sync.js';
import { EventRouter } from '../../src/console/agent-link/event-router.js';
import { newAgentLinkStats } from '../../src/console/agent-link/stats.js';
import { DeviceViews } from '../../src/console/device-views.js';
import type { FeedHub } from '../../src/console/feed.js';
import { openSqliteStore } from '../../src/console/store/sqlite-store.js';
import { createLogger } from '../../src/shared/node/log.js';
import type { DeviceSummary } from '../../src/shared/api.js';
import { PROTOCOL_VERSION } from '../../src/shared/protocol.js';
import { enrollTestDevices } from '../helpers/console-store.js';
import { tempDirsPerTest, waitUntil } from '../helpers/processes.js';

/**
 * Policy acks from a whole rollout: the dashboards see each at once, the store takes them in
 * batches. And what a reconnect's hello costs the store.
 */
const tempPath = tempDirsPerTest();
const log = createLogger('acks-test', 'error');

async function consoleWith(devices: number, currentVersion = 5) {
  const store = openSqliteStore(tempPath('console.db'));
  const ids = (
    await enrollTestDevices(
      store,
      Array.from({ length: devices }, (_, i) => `lab-${i}`),
    )
  ).map((d) => d.id);
  // Every store call the views and DeviceSync make, by method: a reconnect storm is thousands of them.
  const calls = new Map<string, number>();
  const counted = new Proxy(store, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver) as unknown;
      if (typeof value !== 'function' || typeof name !== 'string') return value;
      return (...args: unknown[]) => (calls.set(name, (calls.get(name) ?? 0) + 1), (value as (...a: unknown[]) => unknown).apply(target, args));
    },
  });
  const published: DeviceSummary[] = [];
  // The feed's dashboards are not what is tested: what was published to them is recorded.
  const feed = { publishDevice: (summary: DeviceSummary) => void published.push(summary) } as unknown as FeedHub;
  const views = new DeviceViews(
    counted,
    feed,
    () => true,
    log,
    async () => undefined,
  );
  const router = new EventRouter(newAgentLinkStats(), log);
  const policy = {
    conflicts: () => null,
    currentVersion: () => currentVersion,
    aupVariantOf: async () => undefined,
    reissueForConflict: async () => {},
    hostnameChanged: async () => {},
  };
  const sync = new DeviceSync(counted, views, policy, log, 'p1');
  sync.register(router);
  let statements = 0;
  const write = store.setPolicyVersions.bind(store);
  store.setPolicyVersions = (versions) => (statements++, write(versions));
  const ack = (deviceId: string, version: number) =>
    router.dispatch({ deviceId, receivedAt: new Date().toISOString(), reply: () => true }, { v: PROTOCOL_VERSION, type: 'policy.ack', version } as never);
  return { store, ids, published, sync, router, views, ack, statements: () => statements, calls };
}

describe('policy acks', () => {
  it('1,200 acks reach the dashboards one by one and the store in a few batches', async () => {
    const { store, ids, published, sync, ack, statements } = await consoleWith(1200);
    for (const id of ids) await ack(id, 5);
    // Every ack was published with its version before any of them is written.
    expect(published.filter((s) => s.policyVersion === 5).length).toBe(1200);
    await waitUntil(async () => (await store.listDevices()).every((d) => d.policyVersion === 5), 5000);
    expect(statements()).toBeLessThanOrEqual(4);
    await sync.close();
    await store.close();
  });

  it('the device list read from the store before the batch is written, and live updates after it, show the acked version', async () => {
    const { store, ids, published, sync, router, views, ack } = await consoleWith(1);
    const id = ids[0]!;
    await router.connected(id, new Date().toISOString());
    await ack(id, 9);
    // What GET /api/v1/devices builds from the store meanwhile: the dashboard must not say "behind".
    const stored = (await store.getDevice(id))!;
    expect(stored.policyVersion).not.toBe(9);
    expect((await views.summary(stored)).policyVersion).toBe(9);
    await waitUntil(async () => (await store.getDevice(id))?.policyVersion === 9, 5000);
    // A live frame after the batch was written republishes from the cached record.
    await views.power(id, 'awake', new Date().toISOString());
    expect(published.at(-1)?.policyVersion).toBe(9);
    await sync.close();
    await store.close();
  });

  it('a hello after an ack not yet written is what the store and the dashboards keep', async () => {
    const { store, ids, sync, router, views } = await consoleWith(1);
    const id = ids[0]!;
    const ctx = { deviceId: id, receivedAt: new Date().toISOString(), reply: () => true };
    await router.dispatch(ctx, { v: PROTOCOL_VERSION, type: 'policy.ack', version: 9 } as never);
    await router.dispatch(ctx, {
      v: PROTOCOL_VERSION,
      type: 'hello',
      agentVersion: 't',
      policyVersion: 4,
      policyDigest: null,
      mode: 'service',
      capabilities: [],
    } as never);
    expect((await views.summary((await store.getDevice(id))!)).policyVersion).toBe(4);
    await sync.close();
    expect((await store.getDevice(id))?.policyVersion).toBe(4);
    await store.close();
  });

  it('a device read again before its ack is written shows the acked version, and close writes what waits', async () => {
    const { store, ids, published, sync, router, ack } = await consoleWith(1);
    const id = ids[0]!;
    await ack(id, 7);
    expect((await store.getDevice(id))?.policyVersion).not.toBe(7);
    // A reconnect re-reads the device from the store: the dashboard must not go back to the old version.
    await router.connected(id, new Date().toISOString());
    expect(published.at(-1)?.policyVersion).toBe(7);
    await sync.close();
    expect((await store.getDevice(id))?.policyVersion).toBe(7);
    await store.close();
  });
});

describe('a reconnect', () => {
  const hello = (policyVersion: number | null) => ({
    v: PROTOCOL_VERSION,
    type: 'hello',
    agentVersion: '2.0.0',
    policyVersion,
    policyDigest: null,
    mode: 'service',
    capabilities: [],
  });

  it('reads no device beyond what authentication read, writes the hello in one statement, and takes no policy-floor lock for a version the console issued', async () => {
    const { store, ids, published, sync, router, calls } = await consoleWith(3, 12);
    for (const [i, id] of ids.entries()) {
      // As the hub does: the record it read to check the device's key comes with the connection.
      await router.connected(id, new Date().toISOString(), (await store.getDevice(id))!);
      await router.dispatch({ deviceId: id, receivedAt: new Date().toISOString(), reply: () => true }, hello(10 + i) as never);
    }
    // Versions 10, 11 and 12 are at or below what this console published: its floor is above them.
    expect(calls.get('raisePolicyFloor') ?? 0).toBe(0);
    expect(calls.get('getDevice') ?? 0).toBe(0);
    expect(calls.get('markOnline')).toBe(6);
    expect(calls.get('setPolicyVersions') ?? 0).toBe(0);
    // What the hello said is stored and shown, though the device was not read again.
    for (const [i, id] of ids.entries()) expect(await store.getDevice(id)).toMatchObject({ agentVersion: '2.0.0', policyVersion: 10 + i, online: true });
    // One publication at the connection, online, one at the hello (from the cached record).
    expect(published.map((s) => [s.online, s.policyVersion, s.agentVersion])).toEqual([
      [true, null, null],
      [true, 10, '2.0.0'],
      [true, null, null],
      [true, 11, '2.0.0'],
      [true, null, null],
      [true, 12, '2.0.0'],
    ]);
    await sync.close();
    await store.close();
  });

  it('raises the policy floor once for a device ahead of the console (a restored backup), not at every hello after', async () => {
    const { store, ids, sync, router, calls } = await consoleWith(2, 12);
    for (const id of [...ids, ...ids]) {
      await router.connected(id, new Date().toISOString());
      await router.dispatch({ deviceId: id, receivedAt: new Date().toISOString(), reply: () => true }, hello(20) as never);
    }
    expect(calls.get('raisePolicyFloor')).toBe(1);
    // The next policy is numbered above what the device held.
    expect(await store.allocatePolicyVersion()).toBe(21);
    await sync.close();
    await store.close();
  });
});
