import type { TrayIdleState } from '../../shared/local-ipc.js';
import type { IdleSource } from './platform.js';

/** What the tray's powerMonitor read: seconds since the last input, and the session's idle state. */
export interface TrayIdleReading {
  idleSeconds: number;
  state: TrayIdleState;
}

/** The tray reports every 5 s; a reading older than this means the tray stopped (or hangs). */
export const TRAY_IDLE_FRESH_MS = 15_000;

/**
 * The latest idle reading each user's tray sent (in practice only the session's user: the IPC
 * refuses the others), with when it arrived on a monotonic clock, so a wall-clock jump cannot
 * make an old reading look fresh.
 */
export class TrayIdleReports {
  private readonly latest = new Map<number, { reading: TrayIdleReading; at: number }>();

  constructor(private readonly monoNow: () => number) {}

  record(uid: number, reading: TrayIdleReading): void {
    this.latest.set(uid, { reading: { ...reading }, at: this.monoNow() });
  }

  /** The reading for this user if it is younger than `maxAgeMs`; null otherwise. */
  fresh(uid: number, maxAgeMs = TRAY_IDLE_FRESH_MS): (TrayIdleReading & { ageMs: number }) | null {
    const entry = this.latest.get(uid);
    if (!entry) return null;
    const ageMs = this.monoNow() - entry.at;
    return ageMs >= 0 && ageMs < maxAgeMs ? { ...entry.reading, ageMs } : null;
  }
}

/**
 * Session control's idle source: a fresh tray report for the session's user wins, else the
 * platform's own reader (xprintidle, ioreg), else nothing. The tray runs in the user's desktop
 * session, where the OS answers idle questions that a service in another session cannot
 * (Windows services live in session 0). The reading is used as sent, not aged: between reports
 * we never claim more idle time than the tray saw, so an idle lock is at most one report late,
 * never early.
 */
export function preferTrayIdle(platformIdle: IdleSource | null, reports: TrayIdleReports, sessionUid: () => number | undefined): IdleSource {
  return {
    name: platformIdle ? `tray powerMonitor, else ${platformIdle.name}` : 'tray powerMonitor',
    async idleMs() {
      const uid = sessionUid();
      const reading = uid === undefined ? null : reports.fresh(uid);
      if (reading) return reading.idleSeconds * 1000;
      return platformIdle ? platformIdle.idleMs() : null;
    },
  };
}
