import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type {
  CommandOutput,
  CommandRunner,
  LockOutcome,
  Locker,
  LogoffBackend,
  SessionPlatform,
  SessionTarget,
  StartedProcess,
  WarningDisplay,
} from '../../../session/platform.js';
import { SessionUserRunner } from './as-session-user.js';
import { findSessionProcesses, stillSame } from './session-processes.js';

/** logind answers only where systemd is PID 1 (its runtime directory exists then). */
export const logindRunning = (): boolean => existsSync('/run/systemd/system');

/** How long a foreground locker must survive to count as holding the screen (grabs done). */
const LOCKER_SETTLE_MS = 700;
/** Time session processes get to exit on SIGTERM before SIGKILL. */
const TERM_GRACE_MS = 3000;

export const WARNING_TITLE = 'Vigil: you will be logged off';
export const MESSAGE_TITLE = 'Vigil: message from IT';

/**
 * A locker that lives as a process while the screen is locked (i3lock -n, xsecurelock), run as
 * the session's user so that the pupil's own password unlocks it.
 */
function foregroundLocker(run: CommandRunner, asUser: SessionUserRunner, name: string, command: string, args: string[]): Locker {
  return {
    name,
    available: () => run.has(command),
    async lock(): Promise<LockOutcome> {
      const proc = await asUser.start(command, args);
      if ('ok' in proc) return { ok: false, detail: `${command} not started: ${proc.detail}` };
      const exitedEarly = await Promise.race([proc.exited.then(() => true), sleep(LOCKER_SETTLE_MS).then(() => false)]);
      if (exitedEarly) return { ok: false, detail: `${command} exited at once (could not grab the display?)` };
      return { ok: true, detail: `${command} running as pid ${proc.pid}`, isLocked: () => proc.alive(), release: () => proc.stop() };
    },
  };
}

/** A locker that asks something else (logind, the session's screensaver daemon) and returns. */
function oneShotLocker(
  name: string,
  command: string,
  args: string[],
  available: () => boolean,
  runIt: (command: string, args: string[]) => Promise<CommandOutput>,
): Locker {
  return {
    name,
    available,
    async lock(): Promise<LockOutcome> {
      const out = await runIt(command, args);
      return out.code === 0
        ? { ok: true, detail: `${command} ${args.join(' ')}` }
        : { ok: false, detail: `${command} failed: ${(out.stderr || `exit ${out.code}`).trim().slice(0, 200)}` };
    },
  };
}

/**
 * Linux (X11) session control. Idle time from the X screen-saver extension via xprintidle;
 * lockers in order loginctl (logind only) > xdg-screensaver > xscreensaver-command > i3lock >
 * xsecurelock, all but loginctl run as the session's user; logoff via logind, else by ending exactly the session's processes; the warning
 * as an xmessage window, replaced as the countdown runs.
 */
export function linuxSessionPlatform(run: CommandRunner, target: SessionTarget, procRoot = '/proc'): SessionPlatform {
  const logind = () => logindRunning() && target.sessionId !== undefined;
  const asUser = new SessionUserRunner(run, target);
  // logind locks the session itself; the others talk to the session's own screensaver (its
  // D-Bus session bus, its X properties), so they run as the session's user like the lockers.
  const inSession = (command: string, args: string[]) =>
    oneShotLocker(
      command,
      command,
      args,
      () => run.has(command),
      (c, a) => asUser.runToEnd(c, a),
    );
  const lockers: Locker[] = [
    oneShotLocker(
      'loginctl',
      'loginctl',
      ['lock-session', target.sessionId ?? ''],
      () => logind() && run.has('loginctl'),
      (c, a) => run.run(c, a),
    ),
    inSession('xdg-screensaver', ['lock']),
    inSession('xscreensaver-command', ['-lock']),
    // -n: stay in the foreground so the process tells us whether the screen is locked.
    foregroundLocker(run, asUser, 'i3lock', 'i3lock', ['-n', '-c', '1d3557']),
    foregroundLocker(run, asUser, 'xsecurelock', 'xsecurelock', []),
  ];
  const logoff: LogoffBackend[] = [
    {
      name: 'loginctl',
      available: logind,
      async logoff() {
        const out = await run.run('loginctl', ['terminate-session', target.sessionId ?? '']);
        return {
          ok: out.code === 0,
          detail: out.code === 0 ? `terminated logind session ${target.sessionId}` : `loginctl failed: ${out.stderr.trim().slice(0, 200)}`,
        };
      },
    },
    {
      name: 'kill-session-processes',
      available: () => target.display !== undefined && target.uid !== undefined,
      async logoff() {
        const victims = findSessionProcesses(target.display!, target.uid!, procRoot);
        if (!victims.length) return { ok: true, detail: `no processes of uid ${target.uid} on display ${target.display}` };
        for (const p of victims) signal(p.pid, 'SIGTERM');
        const deadline = Date.now() + TERM_GRACE_MS;
        while (Date.now() < deadline && victims.some((p) => stillSame(p, procRoot))) await sleep(100);
        const stubborn = victims.filter((p) => stillSame(p, procRoot));
        for (const p of stubborn) signal(p.pid, 'SIGKILL');
        return {
          ok: true,
          detail: `ended ${victims.length} process(es) of uid ${target.uid} on display ${target.display} (${victims
            .map((p) => p.comm)
            .slice(0, 8)
            .join(', ')})${stubborn.length ? `; ${stubborn.length} needed SIGKILL` : ''}`,
        };
      },
    },
  ];
  return {
    platform: 'linux',
    idle: run.has('xprintidle')
      ? {
          name: 'xprintidle',
          async idleMs() {
            const out = await run.run('xprintidle', [], 2000);
            const ms = Number(out.stdout.trim());
            return out.code === 0 && Number.isFinite(ms) && ms >= 0 ? ms : null;
          },
        }
      : null,
    lockers,
    logoff,
    warning: xmessageWarning(run),
  };
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
}

/**
 * The countdown as an xmessage window (x11-utils) with a fixed title the pupil (and tests)
 * can find. Each refresh starts the new window before closing the old, so it never vanishes.
 * "Postpone" exits with status 3; our own close is a signal, so it is never taken as a click.
 */
function xmessageWarning(run: CommandRunner): WarningDisplay {
  let current: StartedProcess | null = null;
  return {
    name: 'xmessage',
    available: () => run.has('xmessage'),
    show(text, canPostpone, onPostpone) {
      const buttons = canPostpone ? 'Postpone:3,OK:0' : 'OK:0';
      const next = run.start('xmessage', ['-title', WARNING_TITLE, '-center', '-buttons', buttons, '-default', 'OK', text]);
      void next.exited.then((code) => {
        if (code === 3) onPostpone();
      });
      current?.stop();
      current = next;
    },
    hide() {
      current?.stop();
      current = null;
    },
    async message(text) {
      const proc = run.start('xmessage', ['-title', MESSAGE_TITLE, '-center', '-timeout', '600', text]);
      const failed = await Promise.race([proc.exited.then(() => true), sleep(LOCKER_SETTLE_MS).then(() => false)]);
      return failed ? { ok: false, detail: 'xmessage could not open a window' } : { ok: true, detail: `xmessage pid ${proc.pid}` };
    },
  };
}
