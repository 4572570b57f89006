import type { ActivityNow, PowerState } from '../shared/activity.js';
import type { DeviceAupStatus, DeviceSummary } from '../shared/api.js';
import type { AgentEvent } from '../shared/events.js';
import type { Logger } from '../shared/node/log.js';
import type { DeviceStatus } from '../shared/status.js';
import { BLOCK_SUMMARY_WINDOW_MS, BlockSummary } from './block-summary.js';
import { toDeviceSummary } from './devices.js';
import type { AupVariantOf } from './aups.js';
import type { FeedHub } from './feed.js';
import { LiveState } from './live-state.js';
import { StatusHistory } from './status-history.js';
import type { ConsoleStore, DeviceRecord } from './store/store.js';

/** Stored blocks read back at start to seed the summary. */
const MAX_BLOCKS_SEEDED = 20_000;

/**
 * The dashboard's view of each device: its stored record plus what only the console's memory
 * holds (presence, live activity, recent blocks, AUP status for the signed-in user). Records of
 * connected devices are cached, so frequent `activity` frames reach the feed without a database
 * read; every path that writes a device record calls `refresh`.
 */
export class DeviceViews {
  readonly live = new LiveState();
  readonly blocks = new BlockSummary();
  readonly history: StatusHistory;
  private readonly records = new Map<string, DeviceRecord>();
  /** Policy versions devices acked that the store does not hold yet (written in batches, device-sync.ts). */
  private readonly appliedNotStored = new Map<string, number>();
  private readonly aupMemo = new Map<string, { key: string; status: DeviceAupStatus }>();

  constructor(
    private readonly store: ConsoleStore,
    private readonly feed: FeedHub,
    private readonly isOnline: (deviceId: string) => boolean,
    private readonly log: Logger,
    /** The AUP variant of the policy each device is offered: its status is for that variant. */
    private readonly aupVariantOf: AupVariantOf,
    /** Frames the hub dropped from a device over its budgets (shown on the device page). */
    private readonly framesDropped: (deviceId: string) => number = () => 0,
  ) {
    this.history = new StatusHistory(store);
  }

  async seed(): Promise<void> {
    const since = new Date(Date.now() - BLOCK_SUMMARY_WINDOW_MS).toISOString();
    for (const block of await this.store.listRecentBlocks(since, MAX_BLOCKS_SEEDED)) this.blocks.record(block.deviceId, block.at, block.name);
  }

  /** The summary of a device from a record just read from the store. */
  async summary(stored: DeviceRecord): Promise<DeviceSummary> {
    const record = this.withApplied(stored);
    const online = this.isOnline(record.id);
    const summary = toDeviceSummary({ ...record, online }, this.live.of(record.id, online));
    summary.aup = await this.aupStatus(record);
    summary.blocks = this.blocks.of(record.id);
    summary.capabilities = this.live.capabilitiesOf(record.id, online);
    summary.framesDropped = this.framesDropped(record.id);
    return summary;
  }

  /**
   * A version acked but not yet written (device-sync.ts batches them) is what the device holds: a
   * page that loads the list just after the feed said "current" must not say "behind", nor a
   * record cached now keep the old version once the batch is written.
   */
  private withApplied(record: DeviceRecord): DeviceRecord {
    const applied = this.appliedNotStored.get(record.id);
    return applied === undefined ? record : { ...record, policyVersion: applied };
  }

  /** Re-reads a device and publishes it to the dashboards. */
  async refresh(deviceId: string): Promise<void> {
    const stored = await this.store.getDevice(deviceId);
    if (stored) await this.show(stored);
  }

  /** Publishes a device record as the store holds it now (just read, or just written as given). */
  async show(stored: DeviceRecord): Promise<void> {
    const deviceId = stored.id;
    const record = this.withApplied(stored);
    if (this.isOnline(deviceId)) this.records.set(deviceId, record);
    else this.records.delete(deviceId);
    this.feed.publishDevice(await this.summary(record));
  }

  /**
   * A hello was written (device-sync.ts): published from the record cached when the device
   * connected, with what the hello changed, instead of reading it again. The hello follows the
   * connection at once, so every reconnect would read the device twice.
   */
  async helloStored(deviceId: string, hello: { lastSeenAt: string; agentVersion: string | null; policyVersion: number | null }): Promise<void> {
    const cached = this.records.get(deviceId);
    if (!cached) return this.refresh(deviceId);
    return this.show({
      ...cached,
      lastSeenAt: hello.lastSeenAt,
      agentVersion: hello.agentVersion ?? cached.agentVersion,
      policyVersion: hello.policyVersion ?? cached.policyVersion,
    });
  }

  /**
   * A device applied a policy version: published from the cached record with the new version
   * (the store is written in a batch a moment later, device-sync.ts).
   */
  async policyApplied(deviceId: string, version: number): Promise<void> {
    this.appliedNotStored.set(deviceId, version);
    const cached = this.records.get(deviceId);
    if (!cached) return this.refresh(deviceId);
    const updated = { ...cached, policyVersion: version };
    this.records.set(deviceId, updated);
    this.feed.publishDevice(await this.summary(updated));
  }

  /** The batch of acks is in the store: a record read from now on carries their versions. */
  policyVersionsStored(versions: readonly [id: string, version: number][]): void {
    for (const [id, version] of versions) if (this.appliedNotStored.get(id) === version) this.appliedNotStored.delete(id);
  }

  /** Publishes from the cached record when there is one (live frames change no stored field). */
  private async republish(deviceId: string): Promise<void> {
    const record = this.records.get(deviceId);
    if (record) this.feed.publishDevice(await this.summary(record));
    else await this.refresh(deviceId);
  }

  /** The agent's hello named what it can do (session control, commands...). */
  capabilities(deviceId: string, capabilities: readonly string[]): void {
    this.live.setCapabilities(deviceId, capabilities);
  }

  async connected(deviceId: string, at: string): Promise<void> {
    await this.history.presence(deviceId, this.live.connected(deviceId), at);
  }

  async disconnected(deviceId: string, at: string): Promise<void> {
    this.records.delete(deviceId);
    await this.history.presence(deviceId, this.live.disconnected(deviceId), at);
  }

  activity(deviceId: string, now: ActivityNow): Promise<void> {
    this.live.setActivity(deviceId, now);
    return this.republish(deviceId);
  }

  async power(deviceId: string, state: PowerState, at: string): Promise<void> {
    this.live.setPower(deviceId, state);
    await this.history.presence(deviceId, this.live.presence(deviceId, this.isOnline(deviceId)), at);
    await this.republish(deviceId);
  }

  status(deviceId: string, status: DeviceStatus, at: string): Promise<void> {
    return this.history.status(deviceId, status, at);
  }

  /** Stored events that change what the grid shows (blocks, AUP receipts). */
  async events(deviceId: string, events: AgentEvent[]): Promise<void> {
    let changed = false;
    for (const event of events) {
      if (event.type === 'app.blocked') (this.blocks.record(deviceId, event.at, event.data.name), (changed = true));
      if (event.type === 'aup.accepted') (this.aupMemo.delete(deviceId), (changed = true));
    }
    if (changed) await this.republish(deviceId).catch((error: unknown) => this.log.error('could not publish a device update', { deviceId, error }));
  }

  forget(deviceId: string): void {
    this.records.delete(deviceId);
    this.live.forget(deviceId);
  }

  private async aupStatus(record: DeviceRecord): Promise<DeviceAupStatus> {
    const variant = await this.aupVariantOf(record.id);
    const aup = variant ? await this.store.latestAup(variant) : null;
    if (!variant || !aup) return 'not-required';
    const user = record.status?.user;
    if (!user) return 'no-user';
    const key = `${user}\u0000${variant}\u0000${aup.version}`;
    const memo = this.aupMemo.get(record.id);
    if (memo?.key === key) return memo.status;
    const status = (await this.store.hasAupReceipt(record.id, user, variant, aup.version)) ? 'accepted' : 'not-accepted';
    this.aupMemo.set(record.id, { key, status });
    return status;
  }
}
