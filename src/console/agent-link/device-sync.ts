import type { Logger } from '../../shared/node/log.js';
import { PROTOCOL_VERSION } from '../../shared/protocol.js';
import type { DeviceViews } from '../device-views.js';
import type { AupStore, DeviceRecord, DeviceStore, PolicyStore } from '../store/store.js';
import type { EventRouter, Frame, FrameContext } from './event-router.js';

const MAX_PLAUSIBLE_POLICY_LAG = 10_000;

/** What the device's hello and status are checked against (policy distribution and the plane). */
export interface DevicePolicyView {
  /** Whether the device holds a bundle this console did not sign under that version (null: nothing to compare with). */
  conflicts(version: number, digest: string | null): boolean | null;
  /** The highest version offered to any device now. */
  currentVersion(): number | null;
  /** The AUP variant of the policy the device is offered. */
  aupVariantOf(deviceId: string): Promise<string | undefined>;
  /** Re-signs every bundle under a new version (Maintenance, rate-limited). */
  reissueForConflict(): Promise<void>;
  /** The device reports another hostname than the console knows: hostname rules are checked again. */
  hostnameChanged(deviceId: string, hostname: string): Promise<void>;
}
const HEARTBEAT_FLUSH_MS = 5000;
const ACK_FLUSH_MS = 500;
const ACK_BATCH = 500;

/**
 * Keeps the stored device record in step with its agent: presence, the hello (which policy and
 * AUP it holds), status reports, policy acks and heartbeats. Heartbeats are soft state, written in
 * one batch every few seconds.
 */
export class DeviceSync {
  private readonly lastSeen = new Map<string, string>();
  private readonly flushTimer: NodeJS.Timeout;
  private readonly policyAcks = new Map<string, number>();
  private ackTimer: NodeJS.Timeout | null = null;
  /** The store's policy floor is at least this (raiseFloor). */
  private floorAtLeast = 0;

  constructor(
    private readonly store: DeviceStore & Pick<PolicyStore, 'raisePolicyFloor'> & AupStore,
    private readonly views: DeviceViews,
    private readonly policy: DevicePolicyView,
    private readonly log: Logger,
    /** This console process (its bus process id): the holder the store records for a device it marks online. */
    private readonly processId: string,
  ) {
    this.flushTimer = setInterval(() => void this.flushLastSeen(), HEARTBEAT_FLUSH_MS);
    this.flushTimer.unref();
  }

  register(router: EventRouter): void {
    router
      .onPresence('connected', (deviceId, at, device) => this.connected(deviceId, at, device))
      .onPresence('disconnected', (deviceId, at) => this.disconnected(deviceId, at))
      .onFrame('hello', (ctx, frame) => this.hello(ctx, frame))
      .onFrame('heartbeat', (ctx) => void this.lastSeen.set(ctx.deviceId, ctx.receivedAt))
      .onFrame('status', async ({ deviceId, receivedAt }, { status }) => {
        const before = await this.store.getDevice(deviceId);
        await this.store.saveStatus(deviceId, status, receivedAt);
        if (before && before.hostname !== status.hostname) await this.policy.hostnameChanged(deviceId, status.hostname);
        await this.views.status(deviceId, status, receivedAt);
        await this.views.refresh(deviceId);
      })
      .onFrame('policy.ack', async ({ deviceId }, { version }) => {
        this.queueAck(deviceId, version);
        this.log.info('policy applied by device', { deviceId, version });
        await this.views.policyApplied(deviceId, version);
      });
  }

  private async connected(deviceId: string, at: string, device?: DeviceRecord): Promise<void> {
    await this.store.markOnline(deviceId, at, null, this.processId);
    await this.views.connected(deviceId, at);
    // The record authentication read, with what markOnline wrote: not read again.
    if (device) await this.views.show({ ...device, online: true, lastSeenAt: at });
    else await this.views.refresh(deviceId);
  }

  private async disconnected(deviceId: string, at: string): Promise<void> {
    await this.store.markOffline(deviceId, at, this.processId);
    await this.views.disconnected(deviceId, at);
    await this.views.refresh(deviceId);
  }

  private async hello(ctx: FrameContext, message: Frame<'hello'>): Promise<void> {
    const { deviceId, receivedAt } = ctx;
    this.views.capabilities(deviceId, message.capabilities);
    // What the hello says is newer than an ack still waiting to be written: the ack is dropped,
    // and with it what the dashboards were shown until it was written.
    const waiting = message.policyVersion === null ? undefined : this.policyAcks.get(deviceId);
    if (message.policyVersion !== null) this.policyAcks.delete(deviceId);
    await this.store.markOnline(deviceId, receivedAt, message.agentVersion, this.processId, message.policyVersion);
    if (waiting !== undefined) this.views.policyVersionsStored([[deviceId, waiting]]);
    const variant = await this.policy.aupVariantOf(deviceId);
    const aup = variant ? await this.store.latestAup(variant) : null;
    if (aup) ctx.reply({ v: PROTOCOL_VERSION, type: 'aup', aup: aup.signed });
    // A device behind is offered its group set's policy by PolicyDistribution (a notice, or a frame that fits).
    if (message.policyVersion !== null && this.policy.conflicts(message.policyVersion, message.policyDigest)) {
      // Same number, different content: the console re-used a version (restored backup).
      this.log.warn('device holds a different bundle under the current version number (this console signed other content under it); reissuing the policy', {
        deviceId,
        version: message.policyVersion,
      });
      await this.policy.reissueForConflict();
    }
    if (message.policyVersion !== null) {
      const current = this.policy.currentVersion();
      const known = current ?? 0;
      // A device cannot prove the version it claims, so a claim far beyond anything plausible
      // (a restore lags by a few versions, not thousands) is logged and ignored.
      if (message.policyVersion > known + MAX_PLAUSIBLE_POLICY_LAG) {
        this.log.warn('device claims an implausible policy version; not adjusting numbering', {
          deviceId,
          claimed: message.policyVersion,
          consoleVersion: known,
        });
      } else if (message.policyVersion > Math.max(known, this.floorAtLeast) && (await this.raiseFloor(message.policyVersion))) {
        this.log.warn(
          'a device holds a newer policy version than this console has published (database restored from a backup?); the next push will be numbered above it',
          {
            deviceId,
            deviceVersion: message.policyVersion,
            consoleVersion: current,
          },
        );
      }
    }
    await this.views.helloStored(deviceId, { lastSeenAt: receivedAt, agentVersion: message.agentVersion, policyVersion: message.policyVersion });
  }

  /**
   * Raising the floor locks the policy table in every process of a shared database, so it is
   * done only for a version above what this process knows the floor to be: one it published or
   * adopted (allocated from the floor), or one it raised the floor to already. A reconnect storm
   * of devices holding the current version then takes no lock at all.
   */
  private async raiseFloor(version: number): Promise<boolean> {
    const raised = await this.store.raisePolicyFloor(version);
    this.floorAtLeast = Math.max(this.floorAtLeast, version);
    return raised;
  }

  private async flushLastSeen(): Promise<void> {
    if (!this.lastSeen.size) return;
    const batch = [...this.lastSeen];
    this.lastSeen.clear();
    await this.store.touchDevices(batch).catch((error: unknown) => this.log.error('could not record heartbeats', { error }));
  }

  /**
   * Policy acks are written in batches: a rollout brings one from every device within minutes,
   * and one write each held the console's event loop (with SQLite) for ten seconds in all. The
   * dashboards are told at once; the stored version follows within ACK_FLUSH_MS (and an agent's
   * next hello says again what it holds, should a crash lose the batch).
   */
  private queueAck(deviceId: string, version: number): void {
    this.policyAcks.set(deviceId, version);
    if (this.policyAcks.size >= ACK_BATCH) void this.flushAcks();
    else this.ackTimer ??= setTimeout(() => void this.flushAcks(), ACK_FLUSH_MS);
  }

  private async flushAcks(): Promise<void> {
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.ackTimer = null;
    if (!this.policyAcks.size) return;
    const batch = [...this.policyAcks];
    this.policyAcks.clear();
    await this.store.setPolicyVersions(batch).catch((error: unknown) => this.log.error('could not record policy acks', { error }));
    this.views.policyVersionsStored(batch);
  }

  async close(): Promise<void> {
    clearInterval(this.flushTimer);
    await this.flushLastSeen();
    await this.flushAcks();
  }
}
