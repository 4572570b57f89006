import { z } from 'zod';
import type { Logger } from '../../shared/node/log.js';
import type { AgentHub } from '../agent-hub.js';
import type { EventRouter } from '../agent-link/event-router.js';
import type { ConsoleBus } from '../bus/bus.js';

const PresenceMessage = z.strictObject({ deviceId: z.string().min(1).max(128), online: z.boolean() });
/** `started`: a process that has just joined asks the others which devices they hold. */
const ProcessMessage = z.strictObject({ alive: z.boolean(), started: z.boolean().optional() });
const HoldingMessage = z.strictObject({ deviceIds: z.array(z.string().min(1).max(128)).max(4000) });
/** Device ids per `vigil.holding` message (36-character ids: about 160 KB, under the bus's bound). */
const HOLDING_CHUNK = 4000;

/** How often each process says it is alive, and after how many silent intervals it is presumed gone. */
export const PROCESS_HEARTBEAT_MS = 5_000;
const PRESUMED_GONE_AFTER = 4;

/**
 * Which console process holds which device. A process that authenticates a device says so on
 * `vigil.presence`; any other process still holding a connection for it drops that one (as
 * "replaced", without marking the device offline), so a device is held by one process. Each
 * process heartbeats on `vigil.process`; the devices of a process that says it stops, or falls
 * silent, are no longer counted online here (`onLost` then refreshes the dashboards). A process
 * that starts asks, and every other one answers on `vigil.holding` with the devices it holds.
 */
export class ClusterPresence {
  private readonly remote = new Map<string, string>();
  private readonly heard = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;
  private readonly unsubscribe: (() => void)[];

  constructor(
    private readonly bus: ConsoleBus,
    private readonly hub: Pick<AgentHub, 'isOnline' | 'release' | 'heldDevices'>,
    /** Also stops answering commands for a device taken over by another process. */
    private readonly released: (deviceId: string) => void,
    private readonly onLost: (deviceIds: string[]) => void,
    private readonly log: Logger,
  ) {
    this.unsubscribe = [
      bus.subscribe('vigil.presence', PresenceMessage, (m, from) => this.onPresence(m.deviceId, m.online, from)),
      bus.subscribe('vigil.process', ProcessMessage, (m, from) => this.onProcess(m.alive, m.started === true, from)),
      bus.subscribe('vigil.holding', HoldingMessage, ({ deviceIds }, from) => {
        this.heard.set(from, Date.now());
        for (const id of deviceIds) if (!this.hub.isOnline(id)) this.remote.set(id, from);
      }),
    ];
    this.timer = setInterval(() => this.beat(), PROCESS_HEARTBEAT_MS);
    this.timer.unref();
    this.bus.publish('vigil.process', { alive: true, started: true });
  }

  /** Tells the other processes (after DeviceSync, so the device's record says online first). */
  register(router: EventRouter): void {
    router
      .onPresence('connected', async (deviceId) => this.bus.publish('vigil.presence', { deviceId, online: true }))
      .onPresence('disconnected', async (deviceId) => this.bus.publish('vigil.presence', { deviceId, online: false }));
  }

  /** Connected to this process or, as far as this process has heard, to another. */
  isOnline(deviceId: string): boolean {
    return this.hub.isOnline(deviceId) || this.remote.has(deviceId);
  }

  /** The process holding a device elsewhere (null: here, or nowhere). */
  holderOf(deviceId: string): string | null {
    return this.remote.get(deviceId) ?? null;
  }

  get heldElsewhere(): number {
    return this.remote.size;
  }

  close(): void {
    clearInterval(this.timer);
    this.bus.publish('vigil.process', { alive: false });
    for (const stop of this.unsubscribe) stop();
  }

  private onPresence(deviceId: string, online: boolean, from: string): void {
    this.heard.set(from, Date.now());
    if (!online) {
      if (this.remote.get(deviceId) === from) this.remote.delete(deviceId);
      return;
    }
    this.remote.set(deviceId, from);
    if (this.hub.isOnline(deviceId)) {
      this.log.info('device connected to another console process; dropping this connection', { deviceId, to: from });
      this.released(deviceId);
      this.hub.release(deviceId);
    }
  }

  private onProcess(alive: boolean, started: boolean, from: string): void {
    if (!alive) return this.forget(from);
    this.heard.set(from, Date.now());
    if (!started) return;
    const held = this.hub.heldDevices();
    for (let i = 0; i < held.length; i += HOLDING_CHUNK) this.bus.publish('vigil.holding', { deviceIds: held.slice(i, i + HOLDING_CHUNK) });
  }

  private beat(): void {
    this.bus.publish('vigil.process', { alive: true });
    const cutoff = Date.now() - PROCESS_HEARTBEAT_MS * PRESUMED_GONE_AFTER;
    for (const [process, at] of this.heard) if (at < cutoff) this.forget(process);
  }

  /** A process is gone (it said so, fell silent on the bus, or its lease in the store lapsed). */
  forget(process: string): void {
    this.heard.delete(process);
    const lost: string[] = [];
    for (const [deviceId, holder] of this.remote) if (holder === process) (this.remote.delete(deviceId), lost.push(deviceId));
    if (lost.length) {
      this.log.warn('a console process stopped or fell silent; its devices are offline until they reconnect', { process, devices: lost.length });
      this.onLost(lost);
    }
  }
}
