import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { darwinSessionPlatform } from '../../src/agent/platform/darwin/session.js';
import { findSessionProcesses } from '../../src/agent/platform/linux/session/session-processes.js';
import { SessionUserRunner } from '../../src/agent/platform/linux/session/as-session-user.js';
import { linuxSessionPlatform } from '../../src/agent/platform/linux/session/index.js';
import { win32SessionPlatform } from '../../src/agent/platform/win32/session.js';
import { recorder } from '../helpers/recorded-runner.js';
import { tempDirsPerTest } from '../helpers/processes.js';

const dir = tempDirsPerTest();

describe('Windows session backend (recorded command lines)', () => {
  it('locks with LockWorkStation, logs off the session, messages with msg.exe', async () => {
    const { runner, calls } = recorder();
    const p = win32SessionPlatform(runner, { sessionId: '2' });
    expect(p.idle).toBeNull();
    expect((await p.lockers[0]!.lock()).ok).toBe(true);
    expect((await p.logoff.find((l) => l.available())!.logoff()).ok).toBe(true);
    await p.warning!.message('Please save your work');
    expect(calls).toEqual([
      ['rundll32.exe', 'user32.dll,LockWorkStation'],
      ['logoff.exe', '2'],
      ['msg.exe', '2', '/TIME:600', 'Please save your work'],
    ]);
  });
  it('without a session id falls back to shutdown /l', async () => {
    const { runner, calls } = recorder();
    const p = win32SessionPlatform(runner, {});
    await p.logoff.find((l) => l.available())!.logoff();
    expect(calls).toEqual([['shutdown.exe', '/l']]);
  });
});

describe('macOS session backend (recorded command lines)', () => {
  it('reads HIDIdleTime, locks with pmset, logs off with launchctl bootout, dialogs as the user', async () => {
    const recorded = '    |   "HIDIdleTime" = 5123456789\n    |   "HIDParameters" = {}\n';
    const { runner, calls } = recorder({ ioreg: { stdout: recorded } });
    const p = darwinSessionPlatform(runner, { uid: 501 });
    expect(await p.idle!.idleMs()).toBe(5123);
    await p.lockers[0]!.lock();
    await p.logoff[0]!.logoff();
    await p.warning!.message('Hello "there"; do shell script "x"');
    expect(calls[0]).toEqual(['ioreg', '-c', 'IOHIDSystem', '-d', '4']);
    expect(calls[1]).toEqual(['pmset', 'displaysleepnow']);
    expect(calls[2]).toEqual(['launchctl', 'bootout', 'gui/501']);
    // The text is an argument to the script, never part of it.
    expect(calls[3]!.slice(0, 4)).toEqual(['launchctl', 'asuser', '501', 'osascript']);
    expect(calls[3]!.at(-1)).toBe('Hello "there"; do shell script "x"');
    expect(calls[3]!.slice(4, -1).join(' ')).not.toContain('Hello');
  });
});

describe('Linux session backend', () => {
  it('orders lockers, skips loginctl without logind, and reads xprintidle', async () => {
    const { runner, calls } = recorder({ xprintidle: { stdout: '12345\n' } }, ['xprintidle', 'i3lock', 'xmessage', 'loginctl']);
    const p = linuxSessionPlatform(runner, { display: ':5', uid: 1000 });
    expect(p.lockers.map((l) => l.name)).toEqual(['loginctl', 'xdg-screensaver', 'xscreensaver-command', 'i3lock', 'xsecurelock']);
    expect(p.lockers.filter((l) => l.available()).map((l) => l.name)).toEqual(['i3lock']); // no logind here, no session id
    expect(await p.idle!.idleMs()).toBe(12345);
    p.warning!.show('You will be logged off in 30 seconds', true, () => undefined);
    expect(calls.at(-1)).toEqual([
      'xmessage',
      '-title',
      'Vigil: you will be logged off',
      '-center',
      '-buttons',
      'Postpone:3,OK:0',
      '-default',
      'OK',
      'You will be logged off in 30 seconds',
    ]);
  });

  const PASSWD = 'pupil:x:1000:1000:A Pupil,,,:/home/pupil:/bin/bash\n';
  const TARGET = { display: ':5', uid: 1000, xauthority: '/home/pupil/.Xauthority' };

  it("starts lockers as the session's user: its uid, group and supplementary groups, its HOME, and only the session's DISPLAY/XAUTHORITY", async () => {
    const { runner, calls, options } = recorder({ getent: { stdout: PASSWD } }, ['setpriv', 'i3lock', 'xscreensaver-command']);
    const p = linuxSessionPlatform(runner, TARGET);
    const asRoot = process.getuid!() === 0;
    const i3lock = p.lockers.find((l) => l.name === 'i3lock')!;
    // The recorded process never exits, so the locker counts as holding the screen.
    expect(await i3lock.lock()).toMatchObject({ ok: asRoot });
    if (!asRoot) return; // the agent runs as root; as another user it refuses (tested below)
    expect(calls).toEqual([
      ['getent', 'passwd', '1000'],
      ['setpriv', '--reuid=1000', '--regid=1000', '--init-groups', '--pdeathsig=TERM', '--', 'i3lock', '-n', '-c', '1d3557'],
    ]);
    const { LANG: _lang, ...env } = options[1]!.env!;
    expect(env).toEqual({
      PATH: '/usr/local/bin:/usr/bin:/bin',
      HOME: '/home/pupil',
      USER: 'pupil',
      LOGNAME: 'pupil',
      SHELL: '/bin/bash',
      DISPLAY: ':5',
      XAUTHORITY: '/home/pupil/.Xauthority',
    });
    // The session's screensaver is asked as the session's user too (its bus, its daemon).
    await p.lockers.find((l) => l.name === 'xscreensaver-command')!.lock();
    expect(calls.at(-1)).toEqual(['setpriv', '--reuid=1000', '--regid=1000', '--init-groups', '--pdeathsig=TERM', '--', 'xscreensaver-command', '-lock']);
  });

  it('runs as the session user only when it can say who that is', async () => {
    const make = (target: object, agentUid: number | undefined, installed = ['setpriv']) => {
      const { runner } = recorder({ getent: { stdout: PASSWD } }, installed);
      return new SessionUserRunner(runner, target, agentUid).command('i3lock', ['-n']);
    };
    // An agent running as the session's own user keeps its identity (and still dies-with-parent).
    expect(await make(TARGET, 1000)).toMatchObject({ ok: true, command: 'setpriv', args: ['--pdeathsig=TERM', '--', 'i3lock', '-n'] });
    expect(await make({ display: ':5' }, 0)).toMatchObject({ ok: false, detail: expect.stringMatching(/root's password, not the pupil's/) });
    expect(await make(TARGET, 1001)).toMatchObject({ ok: false, detail: expect.stringMatching(/not root/) });
    expect(await make(TARGET, 0, [])).toMatchObject({ ok: false, detail: expect.stringMatching(/setpriv/) });
    const { runner } = recorder({ getent: { code: 2, stdout: '' } }, ['setpriv']);
    expect(await new SessionUserRunner(runner, TARGET, 0).command('i3lock', [])).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/no entry in the user database/),
    });
  });

  it('identifies session processes by uid AND display, never itself, its ancestors or pid 1', () => {
    const proc = dir();
    const add = (pid: number, ppid: number, uid: number, display: string | null, comm = `p${pid}`) => {
      mkdirSync(join(proc, String(pid)));
      writeFileSync(join(proc, String(pid), 'stat'), `${pid} (${comm}) S ${ppid} ${pid} ${pid} 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 ${1000 + pid} 0 0`);
      writeFileSync(join(proc, String(pid), 'status'), `Name:\t${comm}\nUid:\t${uid}\t${uid}\t${uid}\t${uid}\n`);
      writeFileSync(join(proc, String(pid), 'environ'), ['PATH=/bin', ...(display ? [`DISPLAY=${display}`] : [])].join('\0'));
    };
    add(1, 0, 0, ':5', 'init');
    add(10, 1, 1000, ':5', 'agent-parent');
    add(11, 10, 1000, ':5', 'agent');
    add(20, 1, 1000, ':5', 'xterm');
    add(21, 20, 1000, ':5', 'bash (with) parens');
    add(30, 1, 1000, ':50', 'other-display');
    add(31, 1, 1001, ':5', 'other-user');
    add(32, 1, 1000, null, 'no-display');
    const found = findSessionProcesses(':5', 1000, proc, 11);
    expect(found.map((p) => p.pid).sort()).toEqual([20, 21]);
    expect(found.find((p) => p.pid === 21)).toEqual({ pid: 21, startTime: '1021', comm: 'bash (with) parens' });
  });
});
