import type { Logger } from '../shared/node/log.js';
import type { DistributionResult } from './policies/distribution-port.js';
import type { PeriodicWorkLock } from './store/periodic-lock.js';
import type { ConsoleStore } from './store/store.js';

/** Signing every group set's bundle again (PolicyDistribution). */
export interface PolicyRenewal {
  /** Whether some bundle has less than a third of its lifetime left. */
  needsRenewal(): boolean | Promise<boolean>;
  /** Signs every group set again at one new version and tells devices. */
  renewAll(): Promise<Pick<DistributionResult, 'version' | 'notified'>>;
}

export interface MaintenanceOptions {
  /** Events older than this are deleted (data minimisation). */
  retentionDays: number;
  /** Closed concerns are deleted this many days after they were closed (or last updated while closed). */
  closedConcernRetentionDays: number;
  intervalMs: number;
  /** Whether this process runs periodic work now (several processes share a database: only one does). */
  lock: PeriodicWorkLock;
}

/**
 * Hourly housekeeping: renew the policy before it expires, drop events and closed concerns past
 * retention, and forget expired sessions. Also re-issues the policy on demand when a device reports a
 * same-numbered conflict, at most once a minute however many devices report it.
 */
export class Maintenance {
  private timer: NodeJS.Timeout | null = null;
  private lastReissue = 0;
  private reissuing: Promise<void> | null = null;

  constructor(
    private readonly store: ConsoleStore,
    private readonly policies: PolicyRenewal,
    private readonly log: Logger,
    private readonly options: MaintenanceOptions,
  ) {}

  start(): void {
    void this.runOnce();
    this.timer = setInterval(() => void this.runOnce(), this.options.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  async runOnce(): Promise<void> {
    try {
      if (!(await this.options.lock.holds())) return;
      if (await this.policies.needsRenewal()) await this.reissue('renewal');
      const cutoff = new Date(Date.now() - this.options.retentionDays * 86400_000).toISOString();
      const removed = await this.store.deleteEventsReceivedBefore(cutoff);
      if (removed) this.log.info('removed events past retention', { removed, retentionDays: this.options.retentionDays });
      const history = await this.store.deleteDeviceHistoryBefore(cutoff);
      if (history) this.log.info('removed status history past retention', { removed: history, retentionDays: this.options.retentionDays });
      await this.removeClosedConcerns();
      await this.store.deleteExpiredSessions(new Date().toISOString());
    } catch (error) {
      this.log.error('maintenance failed', { error });
    }
  }

  /**
   * A pupil's words are kept only while the safeguarding lead needs them: open concerns stay
   * however old they are (nothing unhandled is lost), closed ones go after the retention period.
   * The audit records how many went, never what they said.
   */
  private async removeClosedConcerns(): Promise<void> {
    const days = this.options.closedConcernRetentionDays;
    const now = new Date();
    const removed = await this.store.deleteConcernsClosedBefore(new Date(now.getTime() - days * 86400_000).toISOString());
    if (!removed) return;
    this.log.info('removed closed concerns past retention', { removed, retentionDays: days });
    await this.store.appendAudit({
      at: now.toISOString(),
      actor: 'console',
      action: 'concerns.expired',
      target: null,
      detail: { removed, retentionDays: days },
    });
  }

  reissueForConflict(): Promise<void> {
    if (Date.now() - this.lastReissue < 60_000) return Promise.resolve();
    return this.reissue('version-conflict');
  }

  private reissue(reason: 'renewal' | 'version-conflict'): Promise<void> {
    this.reissuing ??= (async () => {
      this.lastReissue = Date.now();
      const { version, notified } = await this.policies.renewAll();
      if (version === null) return;
      this.log.info('reissued the policy under a new version', { reason, version, sentTo: notified });
    })().finally(() => (this.reissuing = null));
    return this.reissuing;
  }
}
