import { createConnection } from 'node:net';
import type { CommandRunner } from '../../../session/platform.js';
import type { SeatSession, SessionLister } from '../../../session/seat.js';
import { logindRunning } from './index.js';

const LOGIND_PROPERTIES = ['Id', 'Name', 'User', 'Display', 'Remote', 'Active', 'Class', 'State', 'Type'];

/** Session ids from `loginctl list-sessions --no-legend` (the first column, whatever follows it). */
export function parseLoginctlList(stdout: string): string[] {
  return stdout
    .split('\n')
    .map((line) => line.trim().split(/\s+/)[0] ?? '')
    .filter((id) => /^[A-Za-z0-9_-]{1,64}$/.test(id));
}

/**
 * `loginctl show-session ID... -p ...`: blocks of Key=Value lines separated by blank lines.
 * Kept: sessions of real users (Class=user, not greeters or lock screens) on a graphical
 * display (x11, wayland, mir) that are not closing.
 */
export function parseLoginctlShow(stdout: string): SeatSession[] {
  const sessions: SeatSession[] = [];
  for (const block of stdout.split(/\n\s*\n/)) {
    const props = new Map<string, string>();
    for (const line of block.split('\n')) {
      const eq = line.indexOf('=');
      if (eq > 0) props.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
    }
    const id = props.get('Id');
    const user = props.get('Name');
    const uid = Number(props.get('User'));
    if (!id || !user || !Number.isInteger(uid)) continue;
    if (props.get('Class') !== 'user' || props.get('State') === 'closing') continue;
    if (!['x11', 'wayland', 'mir'].includes(props.get('Type') ?? '')) continue;
    const display = props.get('Display');
    sessions.push({
      id,
      sessionId: id,
      user,
      uid,
      ...(display ? { display } : {}),
      local: props.get('Remote') !== 'yes',
      active: props.get('Active') === 'yes',
    });
  }
  return sessions;
}

/** Sessions from systemd-logind (only where it runs: PID 1 is systemd). */
export function logindLister(run: CommandRunner): SessionLister {
  return {
    name: 'logind',
    async list() {
      const listed = await run.run('loginctl', ['list-sessions', '--no-legend', '--no-pager']);
      if (listed.code !== 0) return null;
      const ids = parseLoginctlList(listed.stdout);
      if (!ids.length) return [];
      const shown = await run.run('loginctl', ['show-session', ...ids, ...LOGIND_PROPERTIES.flatMap((p) => ['-p', p])]);
      return shown.code === 0 ? parseLoginctlShow(shown.stdout) : null;
    },
  };
}

export interface WhoEntry {
  user: string;
  line: string;
  loginTime: string;
  comment: string | null;
}

/**
 * `who` lines: NAME LINE TIME [(COMMENT)]. GNU coreutils prints TIME as "2026-11-22 08:59" in
 * most locales and "Nov 22 08:59" in the POSIX one; both are read (it only tells sign-ins apart).
 */
export function parseWho(stdout: string): WhoEntry[] {
  const entries: WhoEntry[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^(\S+)\s+(\S+)\s+(\d{4}-\d{2}-\d{2} \d{2}:\d{2}|[A-Za-z]{3}\s+\d{1,2} \d{2}:\d{2})(?:\s+\((.*)\))?\s*$/.exec(line);
    if (m) entries.push({ user: m[1]!, line: m[2]!, loginTime: m[3]!, comment: m[4] ?? null });
  }
  return entries;
}

const LOCAL_DISPLAY = /^:\d{1,4}(\.\d{1,2})?$/;

/**
 * The local X display of a sign-in: the line (":0", as lightdm and most display managers write
 * it) or, for a virtual terminal line ("tty7"), the display in the comment. Terminal windows in
 * a session ("pts/0 (:0)") are not sign-ins of their own.
 */
export function whoDisplay(entry: WhoEntry): string | null {
  if (LOCAL_DISPLAY.test(entry.line)) return entry.line;
  if (/^tty\d+$/.test(entry.line) && entry.comment && LOCAL_DISPLAY.test(entry.comment)) return entry.comment;
  return null;
}

/** Whether an X server accepts connections on a local display (utmp entries outlive crashes). */
export function xDisplayAlive(display: string, socketDir = '/tmp/.X11-unix'): Promise<boolean> {
  const n = /^:(\d+)/.exec(display)?.[1];
  if (n === undefined) return Promise.resolve(false);
  return new Promise((resolve) => {
    const socket = createConnection({ path: `${socketDir}/X${n}` });
    const done = (alive: boolean) => (clearTimeout(timer), socket.destroy(), resolve(alive));
    const timer = setTimeout(() => done(false), 1000);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * Without logind: X sessions from utmp (`who`, as display managers record them) whose display
 * has a live X server. Text-console and remote (ssh) logins have no display and are not seats.
 */
export function utmpLister(run: CommandRunner, options: { utmpFile?: string; displayAlive?: (display: string) => Promise<boolean> } = {}): SessionLister {
  const alive = options.displayAlive ?? ((display: string) => xDisplayAlive(display));
  const uids = new Map<string, number | undefined>();
  const uidOf = async (user: string) => {
    if (!uids.has(user)) {
      if (uids.size > 1024) uids.clear();
      const out = await run.run('id', ['-u', '--', user]);
      const uid = Number(out.stdout.trim());
      uids.set(user, out.code === 0 && Number.isInteger(uid) ? uid : undefined);
    }
    return uids.get(user);
  };
  return {
    name: 'utmp',
    async list() {
      const out = await run.run('who', options.utmpFile ? [options.utmpFile] : []);
      if (out.code !== 0) return null;
      const sessions: SeatSession[] = [];
      const seen = new Set<string>();
      for (const entry of parseWho(out.stdout)) {
        const display = whoDisplay(entry);
        // One sign-in per display (a stale record may remain under a live one after a crash).
        if (!display || seen.has(display) || !(await alive(display))) continue;
        seen.add(display);
        const uid = await uidOf(entry.user);
        sessions.push({
          id: `${entry.user}@${display}@${entry.loginTime}`,
          user: entry.user,
          ...(uid !== undefined ? { uid } : {}),
          display,
          local: true,
          active: true,
        });
      }
      return sessions;
    },
  };
}

export function linuxSessionLister(run: CommandRunner, options: { utmpFile?: string } = {}): SessionLister {
  return logindRunning() && !options.utmpFile ? logindLister(run) : utmpLister(run, options);
}
