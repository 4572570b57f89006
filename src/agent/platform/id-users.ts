import type { CommandRunner } from '../session/platform.js';
import type { UserNames } from './agent-platform.js';

/** `id -un UID`'s answer: the short name on one line, or null (no such account, or not an answer). */
export function parseIdName(out: { code: number | null; stdout: string }): string | null {
  const name = out.stdout.trim();
  return out.code === 0 && /^[^\s:/]{1,255}$/.test(name) ? name : null;
}

/**
 * Account names as the OS's name service gives them: `id -un <uid>` asks NSS on Linux (so sssd and
 * LDAP accounts are named too) and Open Directory on macOS (local, mobile and network accounts,
 * which /etc/passwd does not list). `local` answers first when it can without a process (Linux:
 * the passwd file). Names are cached per uid; a uid with no account is asked again next time (a
 * directory may not have been reachable).
 */
export function idUserNames(
  runner: CommandRunner,
  options: { local?: (uid: number) => string | null; processUser?: (pid: number) => string | null } = {},
): UserNames {
  const cache = new Map<number, string>();
  return {
    async nameOf(uid) {
      if (!Number.isInteger(uid) || uid < 0) return null;
      const known = cache.get(uid) ?? options.local?.(uid);
      if (known) return known;
      const name = parseIdName(await runner.run('id', ['-un', String(uid)], 5000));
      if (name) cache.set(uid, name);
      return name;
    },
    // Where the process watcher reports each process's uid, it names it with nameOf instead.
    processUser: options.processUser ?? (() => null),
  };
}
