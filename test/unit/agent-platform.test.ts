import { describe, expect, it } from 'vitest';
import { idUserNames, parseIdName } from '../../src/agent/platform/id-users.js';
import { platformFor } from '../../src/agent/platform/select.js';
import { DARWIN_BACKEND, LINUX_BACKEND, WINDOWS_BACKEND } from '../../src/agent/exec/rule-set.js';
import type { CommandRunner } from '../../src/agent/session/platform.js';

describe('platformFor: the one OS choice', () => {
  it('gives each OS its own object, with its exec backend, session lister and tray peer check', () => {
    const linux = platformFor('linux');
    const darwin = platformFor('darwin');
    const win32 = platformFor('win32');
    expect([linux.os, darwin.os, win32.os]).toEqual(['linux', 'darwin', 'win32']);
    expect([linux.exec.backend, darwin.exec.backend, win32.exec.backend]).toEqual([LINUX_BACKEND, DARWIN_BACKEND, WINDOWS_BACKEND]);
    expect([linux.tray.platform, darwin.tray.platform, win32.tray.platform]).toEqual(['linux', 'darwin', 'win32']);
    expect(linux.sessions.lister({})?.name).toMatch(/loginctl|utmp|logind/);
    expect(darwin.sessions.lister({})).not.toBeNull();
    expect(win32.sessions.lister({})).not.toBeNull();
    expect([linux.activity.displayServer({ DISPLAY: ':0' }), darwin.activity.displayServer({}), win32.activity.displayServer({})]).toEqual([
      'x11',
      'native',
      'native',
    ]);
    // Only Windows feeds the rules to the OS's own pre-launch enforcement (AppLocker), only Linux has a backstop.
    expect([!!linux.exec.preLaunch, !!darwin.exec.preLaunch, !!win32.exec.preLaunch]).toEqual([false, false, true]);
    expect([!!linux.exec.createBackstop, !!darwin.exec.createBackstop, !!win32.exec.createBackstop]).toEqual([true, false, false]);
    expect(darwin.exec.gateUnavailable()).toMatch(/Endpoint Security/);
    expect(win32.exec.gateUnavailable()).toMatch(/AppLocker/);
  });

  it('runs the agent on another OS with nothing enforced, each part saying so', () => {
    const other = platformFor('freebsd');
    expect(other.os).toBe('freebsd');
    expect(other.sessions.lister({})).toBeNull();
    expect(other.sessions.control({}, other.runner())).toBeNull();
    expect(other.usb({})).toBeNull();
    expect(other.exec.gateUnavailable()).toBe('no pre-exec gate for freebsd');
    expect(() => other.exec.createGate({} as never)).toThrow(/no pre-exec gate on freebsd/);
  });

  it('names a Linux uid from the passwd file (root is uid 0), and an unknown uid as none', async () => {
    const linux = platformFor('linux');
    expect(await linux.users.nameOf(0)).toBe('root');
    expect(await linux.users.nameOf(2_000_000_000)).toBeNull();
    // The local answer first, without a process; `id` only for what the passwd file does not know.
    const asked: string[] = [];
    const runner: CommandRunner = {
      run: async (_c, args) => (asked.push(args[1]!), { code: 0, stdout: 'dir.user\n', stderr: '' }),
      start: () => {
        throw new Error('not used');
      },
      has: () => true,
    };
    const names = idUserNames(runner, { local: (uid) => (uid === 0 ? 'root' : null) });
    expect([await names.nameOf(0), await names.nameOf(70_001)]).toEqual(['root', 'dir.user']);
    expect(asked).toEqual(['70001']);
    expect(linux.users.processUser(process.pid)).toEqual(process.getuid?.() === 0 ? 'root' : expect.any(String));
  });

  it('names macOS accounts with `id -un`, as Open Directory knows them, caching answers', async () => {
    const calls: string[][] = [];
    // What `id -un UID` prints (id(1), BSD): the short name and a newline, or 'no such user' on stderr
    // with status 1. Written from the manual, not captured on a Mac: a local account, a directory account, no account.
    const recorded: Record<string, { code: number; stdout: string; stderr: string }> = {
      '501': { code: 0, stdout: 'ann\n', stderr: '' },
      '1284637': { code: 0, stdout: 'j.smith\n', stderr: '' },
      '4242': { code: 1, stdout: '', stderr: 'id: 4242: no such user\n' },
    };
    const runner: CommandRunner = {
      run: async (command, args) => (calls.push([command, ...args]), recorded[args[1]!] ?? { code: 1, stdout: '', stderr: 'unexpected' }),
      start: () => {
        throw new Error('not used');
      },
      has: () => true,
    };
    const names = idUserNames(runner);
    expect(await names.nameOf(501)).toBe('ann');
    expect(await names.nameOf(1_284_637)).toBe('j.smith');
    expect(await names.nameOf(4242)).toBeNull();
    expect(await names.nameOf(501)).toBe('ann');
    expect(await names.nameOf(-1)).toBeNull();
    expect(calls).toEqual([
      ['id', '-un', '501'],
      ['id', '-un', '1284637'],
      ['id', '-un', '4242'],
    ]);
  });

  it('takes no malformed answer from `id` for a name', () => {
    expect(parseIdName({ code: 0, stdout: 'ann\n' })).toBe('ann');
    expect(parseIdName({ code: 0, stdout: '' })).toBeNull();
    expect(parseIdName({ code: 0, stdout: 'two words\n' })).toBeNull();
    expect(parseIdName({ code: null, stdout: 'ann' })).toBeNull();
  });
});
