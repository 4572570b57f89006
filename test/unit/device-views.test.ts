import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BlockSummary } from '../../src/console/block-summary.js';
import { LiveState } from '../../src/console/live-state.js';
import { StatusHistory } from '../../src/console/status-history.js';
import { activitySpans } from '../../src/console/activity-spans.js';
import type { DeviceStatus } from '../../src/shared/status.js';
import { storeWithDevice as storeWithTestDevice } from '../helpers/console-store.js';
import { tempDirsPerTest } from '../helpers/processes.js';

/** The console's per-device dashboard state: presence, status history, stored spans, blocks. */
const tempPath = tempDirsPerTest();

async function storeWithDevice() {
  const { store, device } = await storeWithTestDevice(tempPath('console.db'));
  return { store, id: device.id };
}

const status = (user: string | null, uptimeSeconds = 10): DeviceStatus => ({
  hostname: 'lab-01',
  os: { platform: 'linux', release: '6.1', distro: null, arch: 'x64' },
  user,
  users: [],
  uptimeSeconds,
  agentVersion: '1.0.0',
  policyVersion: 3,
  collectedAt: new Date().toISOString(),
});

describe('LiveState', () => {
  it('tells suspend from loss: asleep after `suspending` once the connection is gone, offline after a silent drop, online on reconnect', () => {
    const live = new LiveState();
    expect(live.connected('a')).toBe('online');
    expect(live.presence('a', true)).toBe('online');
    live.setPower('a', 'suspending');
    // A claim while the connection still answers pings: the device is online (issue 15, point 2).
    expect(live.presence('a', true)).toBe('online');
    expect(live.disconnected('a')).toBe('asleep');
    expect(live.of('a', false)).toEqual({ presence: 'asleep', activity: null });
    expect(live.connected('a')).toBe('online');
    expect(live.disconnected('a')).toBe('offline');
  });

  it('keeps the latest activity while connected only, and activity means awake', () => {
    const live = new LiveState();
    live.connected('a');
    live.setPower('a', 'suspending');
    const now = { collecting: true, mode: 'full' as const, pausedReason: null, window: null, since: null, idleSeconds: 0, locked: false };
    live.setActivity('a', now);
    expect(live.of('a', true)).toEqual({ presence: 'online', activity: now });
    live.disconnected('a');
    expect(live.of('a', false).activity).toBeNull();
  });
});

describe('StatusHistory', () => {
  it('stores a snapshot only when the status changes in substance, and each presence change once', async () => {
    const { store, id } = await storeWithDevice();
    const history = new StatusHistory(store);
    await history.status(id, status('pupil1', 10), '2026-01-01T10:00:00.000Z');
    await history.status(id, status('pupil1', 70), '2026-01-01T10:01:00.000Z'); // only uptime moved
    await history.status(id, status('pupil2', 130), '2026-01-01T10:02:00.000Z');
    await history.presence(id, 'online', '2026-01-01T10:00:00.000Z');
    await history.presence(id, 'online', '2026-01-01T10:00:01.000Z');
    await history.presence(id, 'asleep', '2026-01-01T10:03:00.000Z');
    const rows = await store.listDeviceHistory(id, { limit: 10 });
    expect(rows.map((r) => (r.kind === 'status' ? `status:${r.status.user}` : `presence:${r.presence}`))).toEqual([
      'presence:asleep',
      'presence:online',
      'status:pupil2',
      'status:pupil1',
    ]);
    // A console restart starts from the stored snapshot, not from nothing.
    await new StatusHistory(store).status(id, status('pupil2', 999), '2026-01-01T11:00:00.000Z');
    expect(await store.listDeviceHistory(id, { limit: 10, kind: 'status' })).toHaveLength(2);
    // Retention removes old rows.
    expect(await store.deleteDeviceHistoryBefore('2026-01-01T10:02:30.000Z')).toBe(3);
    await store.close();
  });
});

describe('StatusHistory and the outbox', () => {
  it('a moving queue length is no change; events dropped on the device are', async () => {
    const { store, id } = await storeWithDevice();
    const history = new StatusHistory(store);
    const withOutbox = (pending: number, dropped: number) => ({
      ...status('pupil1'),
      outbox: { pending, dropped, lastDroppedAt: dropped ? '2026-01-01T09:59:00.000Z' : null },
    });
    await history.status(id, withOutbox(5, 0), '2026-01-01T10:00:00.000Z');
    await history.status(id, withOutbox(900, 0), '2026-01-01T10:01:00.000Z');
    await history.status(id, withOutbox(100_000, 4200), '2026-01-01T10:02:00.000Z');
    const rows = await store.listDeviceHistory(id, { limit: 10, kind: 'status' });
    expect(rows.map((r) => (r.kind === 'status' ? r.status.outbox?.dropped : null))).toEqual([4200, 0]);
    await store.close();
  });
});

describe('activity spans', () => {
  it('returns the spans overlapping a range, oldest first, bounded', async () => {
    const { store, id } = await storeWithDevice();
    const base = Date.parse('2026-01-01T09:00:00.000Z');
    const span = (minute: number, app: string) => ({
      start: new Date(base + minute * 60_000).toISOString(),
      durationMs: 60_000,
      kind: 'window' as const,
      window: { app, title: null, url: null, path: null },
    });
    const batch = (seq: number, at: number, spans: ReturnType<typeof span>[]) => ({
      id: randomUUID(),
      seq,
      at: new Date(base + at * 60_000).toISOString(),
      type: 'activity.spans' as const,
      data: { spans },
    });
    await store.insertEvents(
      id,
      [batch(1, 3, [span(0, 'a'), span(1, 'b'), span(2, 'c')]), batch(2, 10, [span(5, 'd'), span(9, 'e')])],
      new Date().toISOString(),
    );
    const inRange = await activitySpans(store, id, {
      from: new Date(base + 90_000).toISOString(),
      to: new Date(base + 6 * 60_000).toISOString(),
      maxSpans: 100,
    });
    expect(inRange.map((s) => s.window?.app)).toEqual(['b', 'c', 'd']);
    const capped = await activitySpans(store, id, { from: new Date(base).toISOString(), to: new Date(base + 20 * 60_000).toISOString(), maxSpans: 2 });
    expect(capped.map((s) => s.window?.app)).toEqual(['d', 'e']);
    await store.close();
  });
});

describe('BlockSummary', () => {
  it('counts blocks in the last 24 hours and names the latest', () => {
    const blocks = new BlockSummary();
    const now = Date.parse('2026-01-02T12:00:00.000Z');
    blocks.record('a', '2026-01-01T11:00:00.000Z', 'old-game');
    blocks.record('a', '2026-01-02T11:00:00.000Z', 'steam');
    blocks.record('a', '2026-01-02T10:00:00.000Z', 'earlier');
    expect(blocks.of('a', now)).toEqual({ count24h: 2, lastName: 'steam', lastAt: '2026-01-02T11:00:00.000Z' });
    expect(blocks.of('b', now)).toEqual({ count24h: 0, lastName: null, lastAt: null });
  });
});

describe('EventWriter (group commit)', () => {
  it('writes frames from several devices in one transaction, each caller getting its own result', async () => {
    const { store, id } = await storeWithDevice();
    const { EventWriter } = await import('../../src/console/event-writer.js');
    const batches: number[] = [];
    const original = store.insertEventBatch.bind(store);
    store.insertEventBatch = async (entries) => (batches.push(entries.length), original(entries));
    const writer = new EventWriter(store);
    const event = (seq: number) => ({ id: randomUUID(), seq, at: new Date().toISOString(), type: 'diagnostic.test' as const, data: { note: 'x', n: seq } });
    const [e1, e2, e3] = [event(1), event(2), event(3)];
    const results = await Promise.all([writer.write(id, [e1], 'now'), writer.write(id, [e2, e3], 'now'), writer.write(id, [e1], 'now')]);
    expect(batches).toEqual([3]);
    expect(results.map((r) => r.stored.map((e) => e.seq))).toEqual([[1], [2, 3], []]);
    expect(await store.countEvents(id)).toBe(3);

    // A frame that cannot be stored (a device the console does not know) fails alone.
    const stranger = writer.write(randomUUID(), [event(1)], 'now');
    const fine = writer.write(id, [event(4)], 'now');
    await expect(stranger).rejects.toThrow(/FOREIGN KEY/);
    expect((await fine).stored).toHaveLength(1);
    await store.close();
  });
});

describe('DeviceViews: AUP status for the signed-in user', () => {
  it('is not required without an AUP, not accepted until this user accepts the current version here, then accepted', async () => {
    const { store, id } = await storeWithDevice();
    const { DeviceViews } = await import('../../src/console/device-views.js');
    const { FeedHub } = await import('../../src/console/feed.js');
    const { createLogger } = await import('../../src/shared/node/log.js');
    const feed = new FeedHub();
    // The AUP variant of the bundle the device is offered (policies/compose.ts aupVariantOf).
    let variant: string | undefined;
    const views = new DeviceViews(
      store,
      feed,
      () => true,
      createLogger('test', 'error'),
      async () => variant,
    );
    const now = new Date().toISOString();
    const aupOf = async () => (await views.summary((await store.getDevice(id))!)).aup;

    await store.saveStatus(id, status('pupil1'), now);
    expect(await aupOf()).toBe('not-required');
    variant = 'pupils';
    expect(await aupOf()).toBe('not-required'); // the variant has no published text yet
    // Stored records as the services build them; their signatures are not what is tested here.
    await store.publishAup('pupils', (version) => ({ variant: 'pupils', version, signed: {} as any, publishedBy: 'admin', publishedAt: now }));
    expect(await aupOf()).toBe('not-accepted');
    await store.insertAupReceipt(
      { payload: { deviceId: id, user: 'pupil1', variant: 'pupils', version: 1, aupHash: 'h', typedName: 'Pupil One', acceptedAt: now } } as any,
      now,
    );
    await views.events(id, [{ type: 'aup.accepted' } as any]);
    expect(await aupOf()).toBe('accepted');
    // A device offered a bundle that names another variant: a receipt for pupils does not count there.
    await store.publishAup('staff', (version) => ({ variant: 'staff', version, signed: {} as any, publishedBy: 'admin', publishedAt: now }));
    variant = 'staff';
    expect(await aupOf()).toBe('not-accepted');
    variant = 'pupils';
    expect(await aupOf()).toBe('accepted');
    await store.saveStatus(id, status('pupil2'), now);
    expect(await aupOf()).toBe('not-accepted'); // another user at the same seat
    await store.saveStatus(id, status(null), now);
    expect(await aupOf()).toBe('no-user');
    // A new version needs accepting again.
    await store.saveStatus(id, status('pupil1'), now);
    await store.publishAup('pupils', (version) => ({ variant: 'pupils', version, signed: {} as any, publishedBy: 'admin', publishedAt: now }));
    expect(await aupOf()).toBe('not-accepted');
    feed.close();
    await store.close();
  });
});
