import type { NewAgentEvent } from '../../shared/events.js';
import type { Logger } from '../../shared/node/log.js';
import type { Ownership } from '../../shared/session.js';
import type { SessionReason } from '../../shared/session-events.js';
import { cleanText } from '../../shared/text.js';
import { systemClock, type SessionClock } from './clock.js';
import { SessionCore, type SessionAction, type SessionObservation } from './core.js';
import type { LockOutcome, SessionPlatform } from './platform.js';

export interface SessionRunnerOptions {
  platform: SessionPlatform;
  ownership: Ownership;
  emit: (event: NewAgentEvent) => void;
  log: Logger;
  clock?: SessionClock;
  tickMs?: number;
}

export interface CommandDone {
  ok: boolean;
  detail: string;
  backend: string | null;
}

/** Short lines: the countdown window is small and a pupil reads it in a hurry. */
const REASON_TEXT: Record<SessionReason, string> = {
  idle: 'This computer has not been used for a while.',
  'locked-too-long': 'This computer has been locked for too long.',
  schedule: 'The session on this computer is ending.',
  command: 'IT staff have asked for it.',
  'aup-declined': 'You did not agree to the rules for using this computer.',
};

/**
 * Drives SessionCore once a second with the platform's idle time and lock state, and carries
 * out what it decides through the platform's backends: the first locker that works (then the
 * next, then an event), the first logoff backend that works, and the countdown window.
 */
export class SessionRunner {
  readonly core: SessionCore;
  private timer: NodeJS.Timeout | null = null;
  private busy = false;
  private lock: { backend: string; outcome: LockOutcome } | null = null;
  private locking: Promise<CommandDone> | null = null;
  private lastIdle: number | null = null;
  private idleMissingReported = false;
  private pendingLogoff: ((done: CommandDone) => void)[] = [];
  private warningShownAt: number | null = null;
  /** The latest idle time and lock state, for activity reporting (null before the first step). */
  observed: SessionObservation | null = null;

  constructor(private readonly options: SessionRunnerOptions) {
    this.core = new SessionCore(options.clock ?? systemClock, options.ownership);
  }

  /** Names of the backends that are installed/usable here, for the console. */
  backends() {
    const p = this.options.platform;
    return {
      platform: p.platform,
      ownership: this.options.ownership,
      idle: p.idle?.name ?? null,
      lockers: p.lockers.filter((l) => l.available()).map((l) => l.name),
      logoff: p.logoff.filter((l) => l.available()).map((l) => l.name),
      warning: p.warning?.available() ? p.warning.name : null,
    };
  }

  start(): void {
    const backends = this.backends();
    this.options.log.info('session control started', backends);
    this.options.emit({ type: 'session.backends', data: backends });
    if (!backends.lockers.length)
      this.problem('no-locker', `no screen locker is installed (tried ${this.options.platform.lockers.map((l) => l.name).join(', ')})`);
    this.timer = setInterval(() => void this.tick(), this.options.tickMs ?? 1000);
  }

  /**
   * Stops, and ends a locker we left running: nothing the agent started in the session outlives
   * it (a locker with no agent behind it is one nobody reports or ends at logoff).
   */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.options.platform.warning?.hide();
    this.lock?.outcome.release?.();
    this.lock = null;
  }

  /**
   * The session this runner controlled is over (someone else now has the seat): stop, so the
   * next user does not find the previous user's lock screen.
   */
  retire(): void {
    this.stop();
  }

  /** The `session` section of a newly applied policy (unknown: it is validated by the core). */
  applyPolicy(section: unknown): void {
    void this.execute(this.core.setPolicy(section));
  }

  async command(action: 'lock' | 'logoff' | 'message', text?: string): Promise<CommandDone> {
    if (action === 'lock') {
      const result = await this.doLock('command');
      this.core.lockResult(result.ok);
      return result;
    }
    if (action === 'logoff') {
      this.core.requestLogoff();
      const done = new Promise<CommandDone>((resolve) => this.pendingLogoff.push(resolve));
      void this.tick();
      return done;
    }
    const warning = this.options.platform.warning;
    if (!warning?.available()) return { ok: false, detail: 'no way to show a message on this device', backend: null };
    const shown = await warning.message(messageText(text ?? ''));
    this.options.emit({ type: 'session.action', data: { action: 'message', reason: 'command', ok: shown.ok, backend: warning.name, detail: shown.detail } });
    return { ...shown, backend: warning.name };
  }

  /**
   * Logs the session off now, without a countdown: for a decision the pupil has already
   * confirmed (declining the AUP). Console and timed logoffs always go through the warning.
   */
  async logoffNow(reason: SessionReason): Promise<CommandDone> {
    this.core.endedNow();
    const done = new Promise<CommandDone>((resolve) => this.pendingLogoff.push(resolve));
    await this.doLogoff(reason);
    return done;
  }

  private async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const idleMs = (await this.options.platform.idle?.idleMs().catch(() => null)) ?? null;
      if (idleMs === null && !this.idleMissingReported) {
        this.idleMissingReported = true;
        this.problem(
          'no-idle-source',
          `cannot read idle time (${this.options.platform.idle?.name ?? 'no idle source on this platform'}); idle lock and idle logoff are off`,
        );
      }
      const locked = this.isLocked(idleMs);
      this.observed = { idleMs, locked };
      await this.execute(this.core.step({ idleMs, locked }));
      this.lastIdle = idleMs;
    } catch (error) {
      this.options.log.error('session control step failed', { error });
    } finally {
      this.busy = false;
    }
  }

  /**
   * Lockers we keep running say for themselves; after a one-shot locker we take the screen as
   * locked until input shows someone got past it (the idle counter went down).
   */
  private isLocked(idleMs: number | null): boolean {
    if (!this.lock) return false;
    const still = this.lock.outcome.isLocked ? this.lock.outcome.isLocked() : !(idleMs !== null && this.lastIdle !== null && idleMs < this.lastIdle);
    if (!still) {
      this.options.log.info('screen unlocked', { backend: this.lock.backend });
      this.lock = null;
    }
    return still;
  }

  private async execute(actions: SessionAction[]): Promise<void> {
    for (const action of actions) {
      switch (action.kind) {
        case 'lock':
          this.core.lockResult((await this.doLock(action.reason)).ok);
          break;
        case 'warn':
          this.showWarning(action.reason, action.secondsLeft, action.canPostpone);
          break;
        case 'cancel-warning':
          this.hideWarning();
          this.options.emit({
            type: 'session.action',
            data: { action: 'cancel-warning', reason: action.reason, ok: true, backend: null, detail: 'the condition ended before the countdown did' },
          });
          break;
        case 'postponed':
          this.options.emit({
            type: 'session.action',
            data: {
              action: 'postpone',
              reason: action.reason,
              ok: true,
              backend: null,
              detail: `postponed ${action.seconds} s; ${action.timesLeft} more allowed`,
            },
          });
          break;
        case 'logoff':
          await this.doLogoff(action.reason);
          break;
        case 'clock-jump':
          this.options.log.info('clock jump; session timers re-evaluated', { detail: action.detail });
          this.problem('clock-jump', action.detail);
          break;
        case 'policy-invalid':
          this.options.log.warn(action.detail);
          this.problem('policy-invalid', action.detail);
          break;
      }
    }
  }

  private showWarning(reason: SessionReason, secondsLeft: number, canPostpone: boolean): void {
    const warning = this.options.platform.warning;
    const first = this.warningShownAt === null;
    // Refresh every 5 s, then every second for the last 10: enough to read, little flicker.
    if (!first && secondsLeft > 10 && secondsLeft % 5 !== 0) return;
    this.warningShownAt ??= secondsLeft;
    const text = [
      `You will be logged off in ${secondsLeft} second${secondsLeft === 1 ? '' : 's'}.`,
      REASON_TEXT[reason],
      'Save your work now.',
      ...(canPostpone ? ['Press Postpone for more time.'] : []),
    ].join('\n');
    if (warning?.available()) {
      warning.show(text, canPostpone, () => void this.execute(this.core.postpone()));
    }
    if (first) {
      const ok = Boolean(warning?.available());
      this.options.emit({ type: 'session.action', data: { action: 'warn', reason, ok, backend: warning?.name ?? null, detail: `logoff in ${secondsLeft} s` } });
      if (!ok) this.problem('warning-failed', 'no way to show the logoff warning on this device; logging off anyway when the countdown ends');
    }
  }

  private hideWarning(): void {
    this.options.platform.warning?.hide();
    this.warningShownAt = null;
  }

  /**
   * One lock at a time: a console command and the idle timer may ask together, and a second
   * locker on top of a running one would fail to grab the display and look like a fault.
   */
  private doLock(reason: SessionReason): Promise<CommandDone> {
    if (this.lock?.outcome.isLocked?.()) return Promise.resolve({ ok: true, detail: 'the screen is already locked', backend: this.lock.backend });
    this.locking ??= this.tryLockers(reason).finally(() => (this.locking = null));
    return this.locking;
  }

  private async tryLockers(reason: SessionReason): Promise<CommandDone> {
    const tried: string[] = [];
    for (const locker of this.options.platform.lockers) {
      if (!locker.available()) continue;
      const outcome = await locker.lock().catch((error: Error) => ({ ok: false, detail: error.message }) as LockOutcome);
      if (outcome.ok) {
        this.lock = { backend: locker.name, outcome };
        this.options.emit({ type: 'session.action', data: { action: 'lock', reason, ok: true, backend: locker.name, detail: outcome.detail } });
        return { ok: true, detail: outcome.detail, backend: locker.name };
      }
      tried.push(`${locker.name}: ${outcome.detail}`);
      this.options.log.warn('locker failed; trying the next', { locker: locker.name, detail: outcome.detail });
    }
    const detail = tried.length ? `every locker failed (${tried.join('; ')})` : 'no screen locker is installed';
    this.problem(tried.length ? 'lock-failed' : 'no-locker', detail);
    return { ok: false, detail, backend: null };
  }

  private async doLogoff(reason: SessionReason): Promise<void> {
    this.hideWarning();
    let result: CommandDone = { ok: false, detail: 'no logoff mechanism works on this device', backend: null };
    const tried: string[] = [];
    for (const backend of this.options.platform.logoff) {
      if (!backend.available()) continue;
      const out = await backend.logoff().catch((error: Error) => ({ ok: false, detail: error.message }));
      if (out.ok) {
        result = { ...out, backend: backend.name };
        break;
      }
      tried.push(`${backend.name}: ${out.detail}`);
    }
    if (!result.ok && tried.length) result.detail = `every logoff mechanism failed (${tried.join('; ')})`;
    // A locker we started belongs to the session that just ended.
    this.lock?.outcome.release?.();
    this.lock = null;
    this.options.emit({ type: 'session.action', data: { action: 'logoff', reason, ok: result.ok, backend: result.backend, detail: result.detail } });
    if (!result.ok) this.problem('logoff-failed', result.detail);
    else this.options.log.info('logged off the session', { reason, backend: result.backend, detail: result.detail });
    for (const resolve of this.pendingLogoff.splice(0)) resolve(result);
  }

  private problem(kind: Extract<NewAgentEvent, { type: 'session.problem' }>['data']['kind'], detail: string): void {
    this.options.emit({ type: 'session.problem', data: { kind, detail } });
  }
}

/** Message text cleaned line by line, so that line breaks survive (a USB notice has paragraphs). */
function messageText(text: string): string {
  const joined = text
    .replace(/\r\n?/g, '\n')
    .split('\n')
    .slice(0, 20)
    .map((line) => cleanText(line, 500))
    .join('\n');
  return joined.length > 500 ? `${joined.slice(0, 499)}…` : joined;
}
