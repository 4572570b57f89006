import { DEFAULT_SESSION_POLICY, SessionPolicySchema, type Ownership, type SessionPolicy } from '../../shared/session.js';
import type { SessionReason } from '../../shared/session-events.js';
import { summariseZodError } from '../../shared/zod-errors.js';
import type { SessionClock } from './clock.js';
import { latestDueLogoff } from './schedule.js';

/** What the core asks the platform to do (or to report). Platform-free: no OS calls here. */
export type SessionAction =
  | { kind: 'lock'; reason: SessionReason }
  | { kind: 'warn'; reason: SessionReason; secondsLeft: number; canPostpone: boolean }
  | { kind: 'cancel-warning'; reason: SessionReason }
  | { kind: 'logoff'; reason: SessionReason }
  | { kind: 'postponed'; reason: SessionReason; seconds: number; timesLeft: number }
  | { kind: 'clock-jump'; detail: string }
  | { kind: 'policy-invalid'; detail: string };

/** What the runner observed this step. `idleMs` is null when no idle source works. */
export interface SessionObservation {
  idleMs: number | null;
  locked: boolean;
}

interface Warning {
  reason: SessionReason;
  deadlineMono: number;
  postponesUsed: number;
}

/** Wall (or local) time may drift from monotonic by this much between steps before it is a jump. */
export const JUMP_TOLERANCE_MS = 5_000;
/** A gap this long between steps means the process or machine was stopped (sleep, SIGSTOP). */
export const STALL_MS = 15_000;
/** After every locker failed, wait this long before trying again. */
export const LOCK_RETRY_MS = 60_000;

/**
 * The session state machine, driven by idle time and the clock:
 * idle -> lock; idle or locked too long, or a timetabled time -> warning with countdown ->
 * logoff (or postpone, where the policy allows it). Every logoff is preceded by a full warning;
 * after a clock jump (sleep/resume, clock set, time zone change) everything is re-evaluated and
 * a timetabled logoff the laptop slept through starts its full warning rather than firing.
 */
export class SessionCore {
  private policy: SessionPolicy = DEFAULT_SESSION_POLICY;
  private warning: Warning | null = null;
  private lockedSinceMono: number | null = null;
  private lockRequested = false;
  private lockRetryAtMono = 0;
  /** Set after a logoff: nothing happens until someone uses the display again. */
  private ended = false;
  private lastMono: number;
  private lastLocal: number;
  /** Highest local time already scanned for timetabled logoffs (a backward jump must not repeat them). */
  private scheduleScanned: number;

  constructor(
    private readonly clock: SessionClock,
    private readonly ownership: Ownership,
  ) {
    this.lastMono = clock.monoNow();
    this.lastLocal = clock.localMs(clock.wallNow());
    this.scheduleScanned = this.lastLocal;
  }

  get current(): SessionPolicy {
    return this.policy;
  }

  get warningActive(): SessionReason | null {
    return this.warning?.reason ?? null;
  }

  /**
   * Takes the `session` section of a newly applied policy. Anything unreadable falls back to
   * the safe defaults (lock after 5 min, log off after 30 min locked) and is reported: a broken
   * section must never switch session control off.
   */
  setPolicy(raw: unknown): SessionAction[] {
    if (raw === undefined) {
      this.policy = DEFAULT_SESSION_POLICY;
      return [];
    }
    const parsed = SessionPolicySchema.safeParse(raw);
    if (parsed.success) {
      this.policy = parsed.data;
      return [];
    }
    this.policy = DEFAULT_SESSION_POLICY;
    return [{ kind: 'policy-invalid', detail: `session policy unreadable, using defaults: ${summariseZodError(parsed.error)}` }];
  }

  /** One evaluation; the runner calls it about once a second and carries out the actions. */
  step(obs: SessionObservation): SessionAction[] {
    const actions: SessionAction[] = [];
    const mono = this.clock.monoNow();
    const local = this.clock.localMs(this.clock.wallNow());
    const monoDelta = mono - this.lastMono;
    const localDelta = local - this.lastLocal;
    const jumped = Math.abs(localDelta - monoDelta) > JUMP_TOLERANCE_MS || monoDelta > STALL_MS;
    if (jumped) {
      actions.push({
        kind: 'clock-jump',
        detail: `local clock moved ${Math.round(localDelta / 1000)} s while ${Math.round(monoDelta / 1000)} s passed on the monotonic clock`,
      });
      // A countdown the pupil could not have seen (the machine was asleep) starts again in full.
      if (this.warning) this.warning.deadlineMono = Math.max(this.warning.deadlineMono, mono + this.warningMs);
    }
    this.lastMono = mono;
    this.lastLocal = local;
    const p = this.policy;

    if (this.ended) {
      // A new session starts at the next input on the display.
      if (obs.idleMs === null || obs.idleMs >= 2_000) return actions;
      this.ended = false;
      this.lockedSinceMono = null;
    }

    // Locked state and the time it started, on the monotonic clock.
    if (obs.locked) {
      this.lockedSinceMono ??= mono;
      this.lockRequested = false;
    } else {
      this.lockedSinceMono = null;
    }

    // Timetabled logoff: warnings whose start fell in the time that passed since the last step.
    const entries = p.scheduledLogoff[this.ownership];
    const from = Math.max(this.scheduleScanned, local - localDelta);
    const due = latestDueLogoff(entries, from, local, this.warningMs);
    this.scheduleScanned = Math.max(this.scheduleScanned, local);
    if (due !== null && this.warning?.reason !== 'schedule' && this.warning?.reason !== 'command') {
      // Never less than the full warning, however late we noticed (sleep, clock set forward).
      this.warning = { reason: 'schedule', deadlineMono: mono + Math.max(due - local, this.warningMs), postponesUsed: 0 };
    }

    // Idle and locked-too-long warnings start, and are cancelled when the condition ends.
    const idleLimit = p.logoffAfterIdleSeconds * 1000;
    const idleDue = idleLimit > 0 && obs.idleMs !== null && obs.idleMs >= idleLimit - this.warningMs;
    const lockedLimit = p.logoffAfterLockedSeconds * 1000;
    const lockedFor = this.lockedSinceMono === null ? 0 : mono - this.lockedSinceMono;
    const lockedDue = lockedLimit > 0 && obs.locked && lockedFor >= lockedLimit - this.warningMs;
    if (this.warning?.reason === 'idle' && !idleDue) {
      actions.push({ kind: 'cancel-warning', reason: 'idle' });
      this.warning = null;
    } else if (this.warning?.reason === 'locked-too-long' && !lockedDue) {
      actions.push({ kind: 'cancel-warning', reason: 'locked-too-long' });
      this.warning = null;
    }
    if (!this.warning && idleDue) {
      this.warning = { reason: 'idle', deadlineMono: mono + Math.max(idleLimit - obs.idleMs!, this.warningMs), postponesUsed: 0 };
    } else if (!this.warning && lockedDue) {
      this.warning = { reason: 'locked-too-long', deadlineMono: mono + Math.max(lockedLimit - lockedFor, this.warningMs), postponesUsed: 0 };
    }

    // Idle lock (not while a logoff countdown is showing: the pupil must be able to see it).
    const lockLimit = p.lockAfterIdleSeconds * 1000;
    if (
      !this.warning &&
      lockLimit > 0 &&
      !obs.locked &&
      !this.lockRequested &&
      mono >= this.lockRetryAtMono &&
      obs.idleMs !== null &&
      obs.idleMs >= lockLimit
    ) {
      this.lockRequested = true;
      actions.push({ kind: 'lock', reason: 'idle' });
    }

    if (this.warning) {
      const left = this.warning.deadlineMono - mono;
      if (left <= 0) {
        actions.push({ kind: 'logoff', reason: this.warning.reason });
        this.warning = null;
        this.ended = true;
        this.lockRequested = false;
      } else {
        actions.push({ kind: 'warn', reason: this.warning.reason, secondsLeft: Math.ceil(left / 1000), canPostpone: this.canPostpone(this.warning) });
      }
    }
    return actions;
  }

  /** The pupil asked for more time. Only timetabled logoffs can be postponed, within limits. */
  postpone(): SessionAction[] {
    const w = this.warning;
    if (!w || !this.canPostpone(w)) return [];
    w.postponesUsed++;
    w.deadlineMono += this.policy.postpone.seconds * 1000;
    return [{ kind: 'postponed', reason: w.reason, seconds: this.policy.postpone.seconds, timesLeft: this.policy.postpone.maxTimes - w.postponesUsed }];
  }

  /** A console command: lock at once. */
  requestLock(): SessionAction[] {
    this.lockRequested = true;
    return [{ kind: 'lock', reason: 'command' }];
  }

  /** A console command: log off after the full warning, which cannot be postponed. */
  requestLogoff(): void {
    this.warning = { reason: 'command', deadlineMono: this.clock.monoNow() + this.warningMs, postponesUsed: 0 };
    this.ended = false;
  }

  /**
   * The session was logged off at once, outside the countdown (the pupil declined the AUP and
   * confirmed it on the page): any countdown is over and nothing happens until the next input.
   */
  endedNow(): void {
    this.warning = null;
    this.ended = true;
    this.lockRequested = false;
  }

  /** The runner reports the outcome of a lock action. */
  lockResult(ok: boolean): void {
    this.lockRequested = false;
    if (!ok) this.lockRetryAtMono = this.clock.monoNow() + LOCK_RETRY_MS;
  }

  private get warningMs(): number {
    return this.policy.warningSeconds * 1000;
  }

  private canPostpone(w: Warning): boolean {
    const p = this.policy.postpone;
    return w.reason === 'schedule' && p.allowed && w.postponesUsed < p.maxTimes;
  }
}
