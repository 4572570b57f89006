import type { Logger } from '../../shared/node/log.js';
import type { PresenceLeaseStore } from '../store/store.js';

/** How often a process renews its lease, and how long one lasts unrenewed (the bus's silence limit too). */
export const LEASE_RENEW_MS = 5_000;
export const LEASE_MS = 20_000;

/**
 * This process's lease on the devices it holds, in the store (issue 17). Each console process
 * renews its lease every few seconds and sweeps: any online device whose holder's lease lapsed
 * (a process killed with SIGKILL, or a host lost) is marked offline in the store, and the
 * dashboards are told. A process starting after a crash sweeps before it listens, so flags left
 * by processes that are gone are cleared even when no other process survived. A process whose own
 * lease was swept while it still ran (stalled longer than the lease) marks its devices online
 * again at its next renewal.
 */
export class PresenceLease {
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: PresenceLeaseStore,
    private readonly processId: string,
    /** Devices this process holds a connection for now. */
    private readonly held: () => string[],
    /** Devices just marked offline, and the processes whose leases lapsed. */
    private readonly onSwept: (swept: { processes: string[]; devices: string[] }) => Promise<void>,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes the lease and clears what lapsed ones left, before the process accepts devices. */
  async start(): Promise<void> {
    await this.tick();
    this.timer = setInterval(() => {
      this.ticking = this.ticking.then(() => this.tick()).catch((error: unknown) => this.log.warn('could not renew the presence lease', { error }));
    }, LEASE_RENEW_MS);
    this.timer.unref();
  }

  /** Gives the lease up (after the hub has closed its connections and marked them offline). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.ticking;
    await this.store.releaseLease(this.processId);
  }

  private async tick(): Promise<void> {
    const now = this.now();
    const kept = await this.store.renewLease(this.processId, new Date(now + LEASE_MS).toISOString());
    const held = this.held();
    if (!kept && held.length > 0) {
      this.log.warn('this process was presumed gone (its lease lapsed); marking its devices online again', { devices: held.length });
      await this.store.reclaimDevices(this.processId, held);
    }
    const swept = await this.store.sweepLapsedLeases(new Date(now).toISOString());
    if (swept.devices.length === 0 && swept.processes.length === 0) return;
    if (swept.devices.length) {
      this.log.warn('marked offline the devices of console processes that stopped without a word', {
        processes: swept.processes,
        devices: swept.devices.length,
      });
    }
    await this.onSwept(swept);
  }
}
