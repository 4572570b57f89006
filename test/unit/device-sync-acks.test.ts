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

/** Policy acks from a whole rollout: the dashboards see each at once, the store takes them in batches. */
const tempPath = tempDirsPerTest();
const log = createLogger('acks-test', 'error');

async function consoleWith(devices: number) {
  const store = openSqliteStore(tempPath('console.db'));
  const ids = (
    await enrollTestDevices(
      store,
      Array.from({ length: devices }, (_, i) => `lab-${i}`),
    )
  ).map((d) => d.id);
  const published: DeviceSummary[] = [];
  // The feed's dashboards are not what is tested: what was published to them is recorded.
  const feed = { publishDevice: (summary: DeviceSummary) => void published.push(summary) } as unknown as FeedHub;
  const views = new DeviceViews(
    store,
    feed,
    () => true,
    log,
    async () => undefined,
  );
  const router = new EventRouter(newAgentLinkStats(), log);
  const policy = {
    conflicts: () => null,
    currentVersion: () => 5,
    aupVariantOf: async () => undefined,
    reissueForConflict: async () => {},
    hostnameChanged: async () => {},
  };
  const sync = new DeviceSync(store, views, policy, log, 'p1');
  sync.register(router);
  let statements = 0;
  const write = store.setPolicyVersions.bind(store);
  store.setPolicyVersions = (versions) => (statements++, write(versions));
  const ack = (deviceId: string, version: number) =>
    router.dispatch({ deviceId, receivedAt: new Date().toISOString(), reply: () => true }, { v: PROTOCOL_VERSION, type: 'policy.ack', version } as never);
  return { store, ids, published, sync, router, views, ack, statements: () => statements };
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
