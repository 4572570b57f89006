import type { CommandRunner } from '../../session/platform.js';
import type { SeatSession, SessionLister } from '../../session/seat.js';

/** Accounts that own the console while nobody is signed in (login window, setup assistant). */
const NOBODY_AT_CONSOLE = new Set(['root', 'loginwindow', '_mbsetupuser', '']);

/**
 * macOS: the user at the screen owns /dev/console (`stat -f%Su /dev/console`, the documented
 * way scripts find the console user; with fast user switching it is the user in front). Their
 * uid from `id -u` is what `launchctl bootout gui/<uid>` needs.
 */
export function parseConsoleOwner(stdout: string): string | null {
  const user = stdout.trim();
  return NOBODY_AT_CONSOLE.has(user) || !/^[A-Za-z0-9._-]{1,128}$/.test(user) ? null : user;
}

export function darwinSessionLister(run: CommandRunner): SessionLister {
  return {
    name: 'console owner',
    async list() {
      const owner = await run.run('stat', ['-f%Su', '/dev/console']);
      if (owner.code !== 0) return null;
      const user = parseConsoleOwner(owner.stdout);
      if (!user) return [];
      const id = await run.run('id', ['-u', '--', user]);
      const uid = Number(id.stdout.trim());
      if (id.code !== 0 || !Number.isInteger(uid)) return null;
      const session: SeatSession = { id: `console:${uid}`, user, uid, local: true, active: true };
      return [session];
    },
  };
}
