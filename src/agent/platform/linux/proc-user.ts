import { readFileSync, statSync } from 'node:fs';

let names: Map<number, string> | null = null;

/**
 * The user a process runs as (the owner of /proc/PID), named from /etc/passwd; null if the process
 * is gone.
 */
export function processUser(pid: number): string | null {
  let uid: number;
  try {
    uid = statSync(`/proc/${pid}`).uid;
  } catch {
    return null;
  }
  return userName(uid);
}

/**
 * The account name of a uid from /etc/passwd, read once: accounts from a directory service
 * (sssd, LDAP) show as their uid number.
 */
export function userName(uid: number): string {
  return knownUserName(uid) ?? String(uid);
}

/** The account name of a uid from /etc/passwd, or null when it has none there. */
export function knownUserName(uid: number): string | null {
  if (!names) {
    names = new Map();
    try {
      for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
        const [name, , id] = line.split(':');
        if (name && id && /^\d+$/.test(id) && !names.has(Number(id))) names.set(Number(id), name);
      }
    } catch {
      // no passwd file: numbers only
    }
  }
  return names.get(uid) ?? null;
}
