import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { darwinSessionLister, parseConsoleOwner } from '../../src/agent/platform/darwin/seat.js';
import {
  logindLister,
  parseLoginctlList,
  parseLoginctlShow,
  parseWho,
  utmpLister,
  whoDisplay,
  xDisplayAlive,
} from '../../src/agent/platform/linux/session/seat.js';
import { parseQueryUser, win32SessionLister } from '../../src/agent/platform/win32/seat.js';
import type { CommandOutput, CommandRunner } from '../../src/agent/session/platform.js';
import { SeatWatcher, seatSession, type SeatChange, type SeatSession, type SessionLister } from '../../src/agent/session/seat.js';
import { createLogger } from '../../src/shared/node/log.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { sessionXauthority } from '../../src/agent/platform/linux/session/session-processes.js';
import { REPO, tempDir } from '../helpers/processes.js';

/**
 * Listing sign-ins on each OS from recorded command output (test/fixtures/seat):
 * who-*.txt were recorded on Debian 12 from a utmp file written with utmpdump -r; the loginctl,
 * query user and stat outputs follow the formats documented by systemd, Microsoft and Apple
 * (there is no logind, Windows or macOS on the machines these tests run on).
 */
const fixture = (name: string) => readFileSync(join(REPO, 'test/fixtures/seat', name), 'utf8');

/** Answers commands from recorded outputs and remembers the command lines. */
function recorded(outputs: Record<string, Partial<CommandOutput>>): CommandRunner & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    async run(command, args) {
      const line = [command, ...args].join(' ');
      calls.push(line);
      const out = outputs[line] ?? outputs[command];
      return { code: 0, stdout: '', stderr: '', ...(out ?? { code: 127, stderr: `${command}: not found` }) };
    },
    start: () => {
      throw new Error('not used');
    },
    has: () => true,
  };
}

describe('Linux with logind (loginctl)', () => {
  it('lists the session ids whatever columns follow them', () => {
    expect(parseLoginctlList(fixture('loginctl-list-sessions.txt'))).toEqual(['3', '5', 'c1']);
    expect(parseLoginctlList('')).toEqual([]);
  });

  it('keeps graphical sessions of real users, not greeters or text logins', () => {
    expect(parseLoginctlShow(fixture('loginctl-show-session.txt'))).toEqual([
      { id: '3', sessionId: '3', user: 'jsmith', uid: 1000, display: ':0', local: true, active: true },
    ]);
  });

  it('asks loginctl for all sessions in one call and reports "cannot list" on failure', async () => {
    const run = recorded({
      'loginctl list-sessions --no-legend --no-pager': { stdout: fixture('loginctl-list-sessions.txt') },
      'loginctl show-session 3 5 c1 -p Id -p Name -p User -p Display -p Remote -p Active -p Class -p State -p Type': {
        stdout: fixture('loginctl-show-session.txt'),
      },
    });
    expect(await logindLister(run).list()).toHaveLength(1);
    expect(run.calls).toHaveLength(2);
    expect(await logindLister(recorded({ loginctl: { code: 1, stderr: 'Failed to connect to bus' } })).list()).toBeNull();
  });
});

describe('Linux without logind (who + the X display)', () => {
  it('reads who in both time formats (recorded on Debian 12)', () => {
    for (const file of ['who-iso.txt', 'who-posix.txt']) {
      const entries = parseWho(fixture(file));
      expect(entries.map((e) => [e.user, e.line, e.comment])).toEqual([
        ['jsmith', ':0', ':0'],
        ['jsmith', 'pts/0', ':0'],
        ['itadmin', 'pts/1', '10.20.0.5'],
        ['akhan', 'tty2', null],
        ['bpatel', ':1', ':1'],
      ]);
      expect(entries.map(whoDisplay)).toEqual([':0', null, null, null, ':1']);
    }
    expect(whoDisplay({ user: 'x', line: 'tty7', loginTime: '2026-11-22 08:00', comment: ':0' })).toBe(':0');
  });

  it("keeps X sign-ins whose display is alive, with the user's uid; terminals, ssh and text logins are not seats", async () => {
    const run = recorded({
      who: { stdout: fixture('who-iso.txt') },
      'id -u -- jsmith': { stdout: '1000\n' },
      'id -u -- bpatel': { code: 1, stderr: 'no such user' },
    });
    const lister = utmpLister(run, { displayAlive: async (d) => d === ':0' || d === ':1' });
    const sessions = await lister.list();
    expect(sessions).toEqual([
      { id: 'jsmith@:0@2026-11-22 08:59', user: 'jsmith', uid: 1000, display: ':0', local: true, active: true },
      { id: 'bpatel@:1@2026-11-22 09:25', user: 'bpatel', display: ':1', local: true, active: true },
    ]);
    expect(seatSession(sessions!)?.user).toBe('jsmith');
    // A record left behind by a crashed X server is not a session.
    const stale = utmpLister(run, { displayAlive: async (d) => d === ':1' });
    expect((await stale.list())!.map((s) => s.user)).toEqual(['bpatel']);
  });
});

describe('is an X server there? (a real socket)', () => {
  it("true only when something accepts on the display's socket", async () => {
    const dir = tempDir();
    try {
      expect(await xDisplayAlive(':5', dir.path)).toBe(false);
      const server = createServer((socket) => socket.end());
      await new Promise<void>((resolve) => server.listen(join(dir.path, 'X5'), resolve));
      expect(await xDisplayAlive(':5', dir.path)).toBe(true);
      expect(await xDisplayAlive(':5.0', dir.path)).toBe(true);
      expect(await xDisplayAlive(':6', dir.path)).toBe(false);
      expect(await xDisplayAlive('remote:5', dir.path)).toBe(false);
      await new Promise((resolve) => server.close(resolve));
      // The server is gone: not alive (a stale utmp record for it is not a session).
      expect(await xDisplayAlive(':5', dir.path)).toBe(false);
    } finally {
      dir.remove();
    }
  });
});

describe("a followed X session's authority file", () => {
  it("comes from the environment of that session's own processes (same uid and DISPLAY)", () => {
    const dir = tempDir();
    try {
      const proc = (pid: number, uid: number, env: string[]) => {
        mkdirSync(join(dir.path, String(pid)));
        writeFileSync(join(dir.path, String(pid), 'status'), `Name:\tx\nUid:\t${uid}\t${uid}\t${uid}\t${uid}\n`);
        writeFileSync(join(dir.path, String(pid), 'environ'), env.join('\0') + '\0');
        writeFileSync(join(dir.path, String(pid), 'stat'), `${pid} (xterm) S 1 ${pid} ${pid} 0 -1 0 0 0 0 0 0 0 0 20 0 1 0 4242 0 0`);
      };
      proc(9001, 1000, ['DISPLAY=:1', 'XAUTHORITY=/home/other/.Xauthority']); // another display
      proc(9002, 1001, ['DISPLAY=:0', 'XAUTHORITY=/home/intruder/.Xauthority']); // another user
      proc(9003, 1000, ['DISPLAY=:0']); // the session, without the variable
      proc(9004, 1000, ['DISPLAY=:0', 'XAUTHORITY=/run/user/1000/gdm/Xauthority']);
      expect(sessionXauthority(':0', 1000, dir.path)).toBe('/run/user/1000/gdm/Xauthority');
      expect(sessionXauthority(':2', 1000, dir.path)).toBeUndefined();
    } finally {
      dir.remove();
    }
  });
});

describe('Windows (query user)', () => {
  it('reads sessions, the console one local, RDP not, disconnected not active', () => {
    expect(parseQueryUser(fixture('query-user.txt'))).toEqual([
      { id: '1', sessionId: '1', user: 'jsmith', local: true, active: true },
      { id: '2', sessionId: '2', user: 'akhan', local: false, active: true },
      { id: '3', sessionId: '3', user: 'bpatel', local: false, active: false },
    ]);
    expect(seatSession(parseQueryUser(fixture('query-user.txt')))?.user).toBe('jsmith');
  });

  it('nobody signed in is an empty list, not a failure', async () => {
    expect(await win32SessionLister(recorded({ 'query.exe user': { code: 1, stderr: 'No User exists for *\r\n' } })).list()).toEqual([]);
    expect(await win32SessionLister(recorded({ 'query.exe user': { code: 5, stderr: 'Access is denied.' } })).list()).toBeNull();
  });
});

describe('macOS (console owner)', () => {
  it('the owner of /dev/console is at the screen; root / loginwindow means nobody', async () => {
    expect(parseConsoleOwner(fixture('stat-console.txt'))).toBe('jsmith');
    for (const nobody of ['root\n', 'loginwindow\n', '_mbsetupuser\n', '']) expect(parseConsoleOwner(nobody)).toBeNull();
    const run = recorded({ 'stat -f%Su /dev/console': { stdout: fixture('stat-console.txt') }, 'id -u -- jsmith': { stdout: '501\n' } });
    expect(await darwinSessionLister(run).list()).toEqual([{ id: 'console:501', user: 'jsmith', uid: 501, local: true, active: true }]);
  });
});

describe('SeatWatcher', () => {
  const s = (id: string, user: string, extra: Partial<SeatSession> = {}): SeatSession => ({ id, user, local: true, active: true, ...extra });

  it('reports sign-ins and sign-outs and the seat moving, and keeps the last list when listing fails', async () => {
    let next: SeatSession[] | null = [];
    const lister: SessionLister = { name: 'fake', list: async () => next };
    const changes: SeatChange[] = [];
    const watcher = new SeatWatcher({ lister, onChange: (c) => void changes.push(c), log: createLogger('test', 'error') });
    await watcher.poll();
    expect(changes).toEqual([]);
    next = [s('1', 'jsmith', { display: ':0' })];
    await watcher.poll();
    expect(changes.at(-1)).toMatchObject({ started: [{ user: 'jsmith' }], ended: [], seat: { user: 'jsmith' }, seatChanged: true });
    next = null; // `who` failed once: nobody signed out
    await watcher.poll();
    expect(changes).toHaveLength(1);
    expect(watcher.current?.user).toBe('jsmith');
    next = [s('1', 'jsmith', { display: ':0' }), s('9', 'itadmin', { local: false })];
    await watcher.poll();
    expect(changes.at(-1)).toMatchObject({ started: [{ user: 'itadmin' }], seatChanged: false });
    next = [s('2', 'akhan', { display: ':0' })];
    await watcher.poll();
    expect(changes.at(-1)).toMatchObject({
      started: [{ user: 'akhan' }],
      ended: [{ user: 'jsmith' }, { user: 'itadmin' }],
      seat: { user: 'akhan' },
      seatChanged: true,
    });
    next = [];
    await watcher.poll();
    expect(changes.at(-1)).toMatchObject({ ended: [{ user: 'akhan' }], seat: null, seatChanged: true });
  });
});
