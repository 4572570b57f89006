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
 * Session control's idle source. The OS reader the service runs itself (xprintidle against the
 * session's X server, ioreg) is the measurement; the tray's report is a claim by a process of
 * the pupil's, which a script can imitate ("idle 0" every few seconds once kept a laptop from
 * ever locking). So a fresh tray report may only make the session *more* idle than measured
 * (the tray may see input the service cannot, never less), and a reader that fails does not
 * hand the decision to the claim: the runner reports `no-idle-source` to the console instead.
 *
 * Only where the service has no reader of its own (Windows: a service in session 0 cannot ask
 * the user's session) is the tray's report used alone, and docs/security.md says so.
 */
export function measuredIdle(platformIdle: IdleSource | null, reports: TrayIdleReports, sessionUid: () => number | undefined): IdleSource {
  const claim = (): number | null => {
    const uid = sessionUid();
    const reading = uid === undefined ? null : reports.fresh(uid);
    return reading ? reading.idleSeconds * 1000 : null;
  };
  if (!platformIdle) return { name: 'tray report only (no OS idle reader)', idleMs: async () => claim() };
  return {
    name: `${platformIdle.name} + tray report (may only add)`,
    async idleMs() {
      const measured = await platformIdle.idleMs();
      if (measured === null) return null;
      const claimed = claim();
      return claimed === null ? measured : Math.max(measured, claimed);
    },
  };
}
