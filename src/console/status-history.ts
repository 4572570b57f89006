import type { Presence } from '../shared/activity.js';
import type { DeviceStatus } from '../shared/status.js';
import type { ConsoleStore } from './store/store.js';

/**
 * What makes two status reports different for the history: not uptime and collection time
 * (they always differ), nor the outbox's queue length (it moves with every event); events
 * dropped do count.
 */
function fingerprint(status: DeviceStatus): string {
  const { uptimeSeconds: _u, collectedAt: _c, outbox, ...rest } = status;
  return JSON.stringify({ ...rest, dropped: outbox?.dropped ?? null });
}

/**
 * A device's status history: a snapshot whenever its reported status changes in substance (user,
 * versions, enforcement...) and every presence change (online / offline / asleep). Periodic
 * identical reports are not stored, so a quiet fleet writes almost nothing; rows past the
 * retention period go with the events (maintenance.ts).
 */
export class StatusHistory {
  private readonly lastStatus = new Map<string, string>();
  private readonly lastPresence = new Map<string, Presence>();

  constructor(private readonly store: ConsoleStore) {}

  async status(deviceId: string, status: DeviceStatus, at: string): Promise<void> {
    const print = fingerprint(status);
    let previous = this.lastStatus.get(deviceId);
    if (previous === undefined) {
      const [stored] = await this.store.listDeviceHistory(deviceId, { limit: 1, kind: 'status' });
      previous = stored?.kind === 'status' ? fingerprint(stored.status) : '';
    }
    this.lastStatus.set(deviceId, print);
    if (previous !== print) await this.store.appendDeviceHistory(deviceId, { at, kind: 'status', status });
  }

  async presence(deviceId: string, presence: Presence, at: string): Promise<void> {
    if (this.lastPresence.get(deviceId) === presence) return;
    this.lastPresence.set(deviceId, presence);
    await this.store.appendDeviceHistory(deviceId, { at, kind: 'presence', presence });
  }
}
