import { setTimeout as delay } from 'node:timers/promises';
import { z } from 'zod';
import { SHARED_LATEST_MS } from '../store/sql/engine.js';
import type { Logger } from '../../shared/node/log.js';
import type { AgentHub } from '../agent-hub.js';
import type { ConsoleBus } from '../bus/bus.js';
import type { PolicyChangeNotice } from '../policies/distribution-port.js';
import type { PolicyDistribution } from '../policies/distribution.js';
import type { PolicyPlane } from '../policies/plane.js';
import type { AupStore } from '../store/store.js';

/** The policy side of this process, which a change made by another process must reach. */
export interface PolicyParts {
  plane: Pick<PolicyPlane, 'forgetPlacements'>;
  distribution: Pick<PolicyDistribution, 'catchUp' | 'holdsAny'>;
  /** The AUP variant of the policy a device is offered (its group set's). */
  aupVariantOf(deviceId: string): Promise<string | undefined>;
}

const PolicyNotice = z.strictObject({
  devices: z.array(z.string().min(1).max(128)).max(1000).optional(),
  planeChanged: z.literal(true).optional(),
  signed: z.literal(true).optional(),
});
const AupNotice = z.strictObject({ variant: z.string().min(1).max(64), version: z.number().int().positive() });
const DisconnectNotice = z.strictObject({ deviceId: z.string().min(1).max(128), code: z.number().int().min(1000).max(4999), reason: z.string().max(120) });

/**
 * What one console process publishes that every process must pass to its own devices: a policy
 * change (each process takes the group sets' bundles the other signed from the shared database
 * and offers its own devices what their sets now have), a new AUP, and a device cut off (revoked,
 * uninstalled). Nothing durable is on the bus: a process that misses a notice still offers the
 * current policy and AUP at the device's next hello.
 */
export class ClusterBroadcasts {
  private readonly unsubscribe: (() => void)[];

  constructor(
    private readonly bus: ConsoleBus,
    private readonly store: Pick<AupStore, 'latestAup'>,
    private readonly hub: Pick<AgentHub, 'broadcastAup' | 'disconnect'>,
    private readonly policy: PolicyParts,
    private readonly log: Logger,
  ) {
    this.unsubscribe = [
      bus.subscribe('vigil.policy', PolicyNotice, (m) => this.onPolicy(m)),
      bus.subscribe('vigil.aup', AupNotice, (m) => this.onAup(m.variant, m.version)),
      bus.subscribe('vigil.disconnect', DisconnectNotice, (m) => this.hub.disconnect(m.deviceId, m.code, m.reason)),
    ];
  }

  /** After this process signed bundles or moved devices between group sets, and told its own devices. */
  policyChanged(change: PolicyChangeNotice): void {
    this.bus.publish('vigil.policy', change);
  }

  /** After this process sent a new AUP to its own devices. */
  aupPublished(variant: string, version: number): void {
    this.bus.publish('vigil.aup', { variant, version });
  }

  /** Cuts a device off here and on whichever process holds it. */
  disconnect(deviceId: string, code: number, reason: string): void {
    this.hub.disconnect(deviceId, code, reason);
    this.bus.publish('vigil.disconnect', { deviceId, code, reason: reason.slice(0, 120) });
  }

  close(): void {
    for (const stop of this.unsubscribe) stop();
  }

  private async onPolicy(change: PolicyChangeNotice): Promise<void> {
    const { plane, distribution, aupVariantOf } = this.policy;
    // Devices another process enrolled or moved are placed again here (one connecting later must
    // not be offered its old set), and told of their set only if this process holds one.
    await plane.forgetPlacements(change.devices, Boolean(change.signed || change.planeChanged));
    // Unsigned, only the named devices' sets changed; signed, every set may have a new bundle.
    const only = change.signed ? undefined : change.devices;
    if (only && !distribution.holdsAny(only)) return;
    const { notified, variants } = await distribution.catchUp(only);
    for (const variant of variants) {
      const aup = await this.store.latestAup(variant);
      if (aup) await this.hub.broadcastAup(aup.signed, aupVariantOf);
    }
    this.log.info("passed a policy change made by another console process to this process's devices", { notified });
  }

  private async onAup(variant: string, version: number): Promise<void> {
    let aup = await this.store.latestAup(variant);
    // A process of a shared database answers "the latest AUP" from memory for a moment
    // (SHARED_LATEST_MS): an older answer than the notice names is read again once that has passed.
    if (!aup || aup.version < version) {
      await delay(SHARED_LATEST_MS + 50);
      aup = await this.store.latestAup(variant);
    }
    if (!aup || aup.version !== version) return;
    await this.hub.broadcastAup(aup.signed, this.policy.aupVariantOf);
  }
}
