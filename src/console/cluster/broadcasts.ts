import { z } from 'zod';
import type { Logger } from '../../shared/node/log.js';
import type { AgentHub } from '../agent-hub.js';
import type { ConsoleBus } from '../bus/bus.js';
import type { PolicyDistribution } from '../policies/distribution.js';
import type { AupStore, PolicyStore } from '../store/store.js';

const PolicyNotice = z.strictObject({ version: z.number().int().positive() });
const AupNotice = z.strictObject({ variant: z.string().min(1).max(64), version: z.number().int().positive() });
const DisconnectNotice = z.strictObject({ deviceId: z.string().min(1).max(128), code: z.number().int().min(1000).max(4999), reason: z.string().max(120) });

/**
 * What one console process publishes that every process must pass to its own devices: a new
 * policy (the notice names the version; each process reads the signed bundle from the shared
 * database and hands it to its PolicyDistribution, the same call as the publishing process),
 * a new AUP, and a device cut off (revoked, uninstalled). Nothing durable is on the bus: a
 * process that misses a notice still offers the current policy and AUP at the device's next hello.
 */
export class ClusterBroadcasts {
  private readonly unsubscribe: (() => void)[];

  constructor(
    private readonly bus: ConsoleBus,
    private readonly store: Pick<PolicyStore, 'latestPolicy'> & Pick<AupStore, 'latestAup'>,
    private readonly hub: Pick<AgentHub, 'broadcastAup' | 'disconnect'>,
    private readonly distribution: Pick<PolicyDistribution, 'broadcastPolicy'>,
    private readonly log: Logger,
  ) {
    this.unsubscribe = [
      bus.subscribe('vigil.policy', PolicyNotice, (m) => this.onPolicy(m.version)),
      bus.subscribe('vigil.aup', AupNotice, (m) => this.onAup(m.variant, m.version)),
      bus.subscribe('vigil.disconnect', DisconnectNotice, (m) => this.hub.disconnect(m.deviceId, m.code, m.reason)),
    ];
  }

  /** After this process delivered policy `version` to its own devices. */
  policyPublished(version: number): void {
    this.bus.publish('vigil.policy', { version });
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

  private async onPolicy(version: number): Promise<void> {
    const latest = await this.store.latestPolicy();
    // A later policy may already have replaced it; that one's own notice follows.
    if (!latest || latest.version !== version) return;
    const sent = await this.distribution.broadcastPolicy(latest.bundle);
    const variant = latest.document.aup?.variant;
    const aup = variant ? await this.store.latestAup(variant) : null;
    if (aup) await this.hub.broadcastAup(aup.signed);
    this.log.info("passed a policy published by another console process to this process's devices", { version, sentTo: sent });
  }

  private async onAup(variant: string, version: number): Promise<void> {
    const aup = await this.store.latestAup(variant);
    if (!aup || aup.version !== version) return;
    await this.hub.broadcastAup(aup.signed);
  }
}
