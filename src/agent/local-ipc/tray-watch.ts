import type { NewAgentEvent } from '../../shared/events.js';
import type { Logger } from '../../shared/node/log.js';
import type { TrayPolicy } from '../../shared/tray-policy.js';

/** The tray that went away, as the kernel named it. */
export interface StoppedTray {
  uid: number;
  gid: number;
  pid: number;
  user: string;
}

export interface TrayWatchOptions {
  policy: () => TrayPolicy;
  emit: (event: NewAgentEvent) => void;
  /** Starts the user's tray again; ok false when it cannot (no tray command configured...). */
  restart: (tray: StoppedTray) => Promise<{ ok: boolean; detail: string }>;
  /** Locks the session (the session runner's lock); null when session control is off. */
  lock: (() => Promise<{ ok: boolean; detail: string }>) | null;
  log: Logger;
  setTimer?: (fn: () => void, ms: number) => { cancel(): void };
}

/**
 * Notices a pupil's tray going away. A tray that said hello and whose last connection closes
 * has `graceSeconds` to come back (an update or a crash-restart is fine); after that the
 * service reports `tray.stopped` to the console and restarts it or locks the session, as the
 * policy says. A restart that fails falls back to the lock, so killing the tray never leaves
 * the session running without it and unreported.
 */
export class TrayWatch {
  private readonly present = new Map<number, number>(); // uid -> open hello connections
  private readonly waiting = new Map<number, { cancel(): void }>();
  private readonly setTimer: NonNullable<TrayWatchOptions['setTimer']>;

  constructor(private readonly options: TrayWatchOptions) {
    this.setTimer =
      options.setTimer ??
      ((fn, ms) => {
        const t = setTimeout(fn, ms);
        return { cancel: () => clearTimeout(t) };
      });
  }

  hello(uid: number): void {
    this.present.set(uid, (this.present.get(uid) ?? 0) + 1);
    this.waiting.get(uid)?.cancel();
    this.waiting.delete(uid);
  }

  gone(tray: StoppedTray): void {
    const { uid } = tray;
    const left = (this.present.get(uid) ?? 1) - 1;
    if (left > 0) return void this.present.set(uid, left);
    this.present.delete(uid);
    const { graceSeconds } = this.options.policy();
    this.waiting.get(uid)?.cancel();
    this.waiting.set(
      uid,
      this.setTimer(() => {
        this.waiting.delete(uid);
        void this.act(tray);
      }, graceSeconds * 1000),
    );
  }

  stop(): void {
    for (const timer of this.waiting.values()) timer.cancel();
    this.waiting.clear();
  }

  private async act(tray: StoppedTray): Promise<void> {
    const { uid, user, pid } = tray;
    const { onStopped, graceSeconds } = this.options.policy();
    const { log, emit } = this.options;
    const gone = `the tray of ${user} (pid ${pid}) stopped and was not back within ${graceSeconds} s`;
    let action: 'restarted' | 'locked' | 'reported' = 'reported';
    let ok = true;
    let detail = gone;
    if (onStopped === 'restart') {
      const result = await this.options.restart(tray).catch((error: Error) => ({ ok: false, detail: error.message }));
      if (result.ok) ((action = 'restarted'), (detail = `${gone}; started it again`));
      else detail = `${gone}; could not start it again (${result.detail})`;
      ok = result.ok;
    }
    if ((onStopped === 'lock' || (onStopped === 'restart' && !ok)) && this.options.lock) {
      const result = await this.options.lock().catch((error: Error) => ({ ok: false, detail: error.message }));
      action = 'locked';
      ok = result.ok;
      detail = `${detail}; ${result.ok ? 'locked the session' : `locking the session failed: ${result.detail}`}`;
    }
    log.warn('tray stopped', { user, uid, action, ok, detail });
    emit({ type: 'tray.stopped', data: { user, action, ok, detail: detail.slice(0, 512) } });
  }
}
