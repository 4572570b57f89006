import type { ActivityNow, PowerState, Presence } from '../shared/activity.js';
import type { DeviceLiveState } from './devices.js';

/**
 * What connected devices say about themselves that is not worth a database write: the live
 * session state (`activity` frames, latest wins) and whether a device announced it was going to
 * sleep. Held in memory only; a console restart forgets it and devices resend on reconnect.
 *
 * Presence: a connected device that answers the console's pings is online, whatever it says
 * about its power (`suspending` is a claim that a process in the pupil's session can make; the
 * console trusts only what it measures: the connection). A device whose connection ends after
 * it said `suspending` is asleep (not lost) until it connects again; otherwise a device without
 * a connection is offline.
 */
export class LiveState {
  private readonly activity = new Map<string, ActivityNow>();
  private readonly sleeping = new Set<string>();
  /** What each connected agent said it can do in its hello (a claim: it only decides which buttons the dashboard offers). */
  private readonly capabilities = new Map<string, readonly string[]>();

  /** Returns the device's presence before and after, so callers can record a change. */
  connected(deviceId: string): Presence {
    this.sleeping.delete(deviceId);
    return 'online';
  }

  disconnected(deviceId: string): Presence {
    this.activity.delete(deviceId);
    this.capabilities.delete(deviceId);
    return this.sleeping.has(deviceId) ? 'asleep' : 'offline';
  }

  setActivity(deviceId: string, now: ActivityNow): void {
    // A device reporting its session again has woken up (the `awake` frame may come later).
    this.sleeping.delete(deviceId);
    this.activity.set(deviceId, now);
  }

  setCapabilities(deviceId: string, capabilities: readonly string[]): void {
    this.capabilities.set(deviceId, capabilities);
  }

  capabilitiesOf(deviceId: string, online: boolean): string[] {
    return online ? [...(this.capabilities.get(deviceId) ?? [])] : [];
  }

  setPower(deviceId: string, state: PowerState): void {
    if (state === 'suspending') this.sleeping.add(deviceId);
    else this.sleeping.delete(deviceId);
  }

  presence(deviceId: string, online: boolean): Presence {
    if (online) return 'online';
    return this.sleeping.has(deviceId) ? 'asleep' : 'offline';
  }

  of(deviceId: string, online: boolean): DeviceLiveState {
    return { presence: this.presence(deviceId, online), activity: online ? (this.activity.get(deviceId) ?? null) : null };
  }

  /** Forgets a device entirely (revoked). */
  forget(deviceId: string): void {
    this.activity.delete(deviceId);
    this.sleeping.delete(deviceId);
    this.capabilities.delete(deviceId);
  }
}
