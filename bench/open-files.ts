import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/**
 * The open-file limit (RLIMIT_NOFILE) benchmarks run under, checked before they start rather
 * than found by a crash halfway ("fetch failed" once the console could take no more sockets).
 * Children inherit it, so it holds for the console and the fleet simulator alike.
 */
export interface OpenFileLimit {
  soft: number;
  hard: number | null;
}

/** Files and sockets one process needs besides one per agent: Node itself, SQLite, the listening socket, the dashboard, API calls. */
export const FILES_PER_PROCESS = 100;

/** From /proc/self/limits on Linux, else from the shell's `ulimit -n`; null if neither answers. */
export function openFileLimit(): OpenFileLimit | null {
  try {
    const line = /^Max open files\s+(\S+)\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (line) return { soft: toNumber(line[1]!), hard: toNumber(line[2]!) };
  } catch {
    /* not Linux */
  }
  const out = spawnSync('sh', ['-c', 'ulimit -Sn; ulimit -Hn'], { encoding: 'utf8' });
  const [soft, hard] = (out.stdout ?? '').trim().split('\n');
  return out.status === 0 && soft ? { soft: toNumber(soft), hard: hard ? toNumber(hard) : null } : null;
}

function toNumber(value: string): number {
  return value === 'unlimited' ? Number.POSITIVE_INFINITY : Number(value);
}

/**
 * How many simulated agents fit: every agent is one connection in the simulator and one in the
 * console, each process under the same limit, so it is the limit less what a process needs anyway.
 */
export function agentsThatFit(limit: OpenFileLimit): number {
  return Math.max(0, limit.soft - FILES_PER_PROCESS);
}

/** Null when `agents` fit; else what the limit allows and how to raise it. */
export function agentLimitProblem(agents: number, limit: OpenFileLimit | null): string | null {
  if (!limit) return null;
  const fit = agentsThatFit(limit);
  if (agents <= fit) return null;
  const raise =
    limit.hard !== null && limit.hard > limit.soft
      ? `raise it with \`ulimit -n ${Number.isFinite(limit.hard) ? limit.hard : 'N'}\` (the hard limit${Number.isFinite(limit.hard) ? ` here, which allows ${agentsThatFit({ soft: limit.hard, hard: limit.hard })} agents` : ''}) or run fewer agents`
      : 'the hard limit is the same, so run fewer agents (or raise the hard limit as root)';
  return (
    `${agents} agents do not fit under this process's open-file limit of ${limit.soft} (ulimit -n): each agent holds one ` +
    `connection in the simulator and one in the console, and each process needs about ${FILES_PER_PROCESS} files of its own, ` +
    `so at most ${fit} agents fit here; ${raise}.`
  );
}
