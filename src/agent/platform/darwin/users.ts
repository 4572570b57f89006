import type { CommandRunner } from '../../session/platform.js';
import type { UserNames } from '../agent-platform.js';

/**
 * Account names on macOS come from Open Directory (local, mobile and network accounts alike),
 * which /etc/passwd does not list: `id -un <uid>` asks the directory services. Names are cached
 * per uid; a uid with no account is asked again next time (it may be a network account not yet
 * reachable).
 */
export function parseIdName(out: { code: number | null; stdout: string }): string | null {
  const name = out.stdout.trim();
  // A short name is one line without spaces or colons; anything else is not an answer.
  return out.code === 0 && /^[^\s:/]{1,255}$/.test(name) ? name : null;
}

export function darwinUserNames(runner: CommandRunner): UserNames {
  const cache = new Map<number, string>();
  return {
    async nameOf(uid) {
      if (!Number.isInteger(uid) || uid < 0) return null;
      const known = cache.get(uid);
      if (known) return known;
      const name = parseIdName(await runner.run('id', ['-un', String(uid)], 5000));
      if (name) cache.set(uid, name);
      return name;
    },
    // ps reports each process's uid, and the watcher names it with nameOf.
    processUser: () => null,
  };
}
