import type { DeviceBlocks } from '../shared/api.js';

const DAY_MS = 86400_000;
/** Timestamps kept per device: enough to count a busy day without growing without end. */
const MAX_TIMES_PER_DEVICE = 500;

/**
 * A compact per-device summary of recent `app.blocked` events for the dashboard grid: how many
 * in the last 24 hours and the last program stopped. Kept in memory, seeded from stored events
 * at start; a device that blocks more than MAX_TIMES_PER_DEVICE programs a day shows that cap.
 */
export class BlockSummary {
  private readonly byDevice = new Map<string, { times: number[]; lastName: string; lastAt: string }>();

  record(deviceId: string, at: string, name: string): void {
    const entry = this.byDevice.get(deviceId) ?? { times: [], lastName: name, lastAt: at };
    const time = Date.parse(at);
    entry.times.push(time);
    if (entry.times.length > MAX_TIMES_PER_DEVICE) entry.times.splice(0, entry.times.length - MAX_TIMES_PER_DEVICE);
    if (time >= Date.parse(entry.lastAt)) Object.assign(entry, { lastName: name, lastAt: at });
    this.byDevice.set(deviceId, entry);
  }

  of(deviceId: string, now = Date.now()): DeviceBlocks {
    const entry = this.byDevice.get(deviceId);
    if (!entry) return { count24h: 0, lastName: null, lastAt: null };
    const since = now - DAY_MS;
    entry.times = entry.times.filter((t) => t >= since);
    return { count24h: entry.times.length, lastName: entry.lastName, lastAt: entry.lastAt };
  }
}

export const BLOCK_SUMMARY_WINDOW_MS = DAY_MS;
