import type { Logger } from '../../shared/node/log.js';

/**
 * Following sign-ins: which desktop sessions exist on this device, and which one is at the
 * seat (the physical screen and keyboard). Each OS lists sessions its own way
 * (src/agent/platform/<os>/seat.ts); the watcher that diffs the lists is platform-free.
 */
export interface SeatSession {
  /** Stable for the life of one sign-in (logind/Windows session id, or user+line+login time). */
  id: string;
  user: string;
  uid?: number;
  /** The OS's own id for it (logind, Windows), which its lock/logoff commands take. */
  sessionId?: string;
  /** X display, e.g. ":0" (Linux). */
  display?: string;
  /** Signed in at the device itself (not over RDP/SSH/VNC). */
  local: boolean;
  /** In the foreground of its seat (logind Active, Windows "Active"). */
  active: boolean;
}

export interface SessionLister {
  readonly name: string;
  /** The desktop sessions now, or null when they cannot be listed (the previous list stands). */
  list(): Promise<SeatSession[] | null>;
}

/** The session at the seat: local and active; with several, the lowest display / first listed. */
export function seatSession(sessions: readonly SeatSession[]): SeatSession | null {
  const candidates = sessions.filter((s) => s.local && s.active);
  return [...candidates].sort((a, b) => displayNumber(a) - displayNumber(b))[0] ?? null;
}

function displayNumber(s: SeatSession): number {
  const m = /:(\d+)/.exec(s.display ?? '');
  return m ? Number(m[1]) : Number.MAX_SAFE_INTEGER;
}

export interface SeatChange {
  started: SeatSession[];
  ended: SeatSession[];
  /** The session at the seat after this change (null: nobody signed in there). */
  seat: SeatSession | null;
  /** True when the seat session is a different sign-in than before. */
  seatChanged: boolean;
}

/**
 * Polls the lister and reports sessions starting and ending and the seat moving to another
 * sign-in. A failed listing changes nothing (a session is not "ended" because `who` failed once).
 */
export class SeatWatcher {
  private known = new Map<string, SeatSession>();
  private seat: SeatSession | null = null;
  private timer: NodeJS.Timeout | null = null;
  private polling: Promise<void> | null = null;
  private failing = false;

  constructor(
    private readonly options: {
      lister: SessionLister;
      onChange: (change: SeatChange) => void | Promise<void>;
      log: Logger;
      intervalMs?: number;
    },
  ) {}

  get current(): SeatSession | null {
    return this.seat;
  }

  start(): void {
    void this.poll();
    this.timer = setInterval(() => void this.poll(), this.options.intervalMs ?? 3000);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One look at the sessions (also what the timer runs); concurrent calls share one look. */
  poll(): Promise<void> {
    this.polling ??= this.look().finally(() => (this.polling = null));
    return this.polling;
  }

  private async look(): Promise<void> {
    const list = await this.options.lister.list().catch((error: Error) => {
      this.options.log.warn('could not list sessions', { lister: this.options.lister.name, error: error.message });
      return null;
    });
    if (!list) {
      if (!this.failing) this.options.log.warn('session list unavailable; keeping the last one', { lister: this.options.lister.name });
      this.failing = true;
      return;
    }
    this.failing = false;
    const now = new Map(list.map((s) => [s.id, s]));
    const started = list.filter((s) => !this.known.has(s.id));
    const ended = [...this.known.values()].filter((s) => !now.has(s.id));
    const seat = seatSession(list);
    const seatChanged = (seat?.id ?? null) !== (this.seat?.id ?? null);
    this.known = now;
    this.seat = seat;
    if (!started.length && !ended.length && !seatChanged) return;
    try {
      await this.options.onChange({ started, ended, seat, seatChanged });
    } catch (error) {
      this.options.log.error('session change handler failed', { error });
    }
  }
}
