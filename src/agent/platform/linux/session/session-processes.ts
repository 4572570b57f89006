import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** A process identified as part of the session; `startTime` guards against pid reuse. */
export interface SessionProcess {
  pid: number;
  startTime: string;
  comm: string;
}

interface ProcInfo {
  pid: number;
  ppid: number;
  startTime: string;
  comm: string;
}

/** Fields of /proc/<pid>/stat after the command name (which may itself contain ") "). */
function readStat(procRoot: string, pid: number): ProcInfo | null {
  try {
    const stat = readFileSync(join(procRoot, String(pid), 'stat'), 'utf8');
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const fields = stat.slice(close + 2).split(' '); // fields[0] is state (field 3)
    return { pid, ppid: Number(fields[1]), startTime: fields[19] ?? '', comm };
  } catch {
    return null; // gone, or not ours to read
  }
}

function realUid(procRoot: string, pid: number): number | null {
  try {
    const line = /^Uid:\s+(\d+)/m.exec(readFileSync(join(procRoot, String(pid), 'status'), 'utf8'));
    return line ? Number(line[1]) : null;
  } catch {
    return null;
  }
}

function environValue(procRoot: string, pid: number, name: string): string | null {
  try {
    const env = readFileSync(join(procRoot, String(pid), 'environ'), 'latin1').split('\0');
    const entry = env.find((e) => e.startsWith(`${name}=`));
    return entry ? entry.slice(name.length + 1) : null;
  } catch {
    return null;
  }
}

/**
 * The processes of one X session: owned by the session's user (real uid) AND started with
 * exactly that DISPLAY in their environment. Never pid 1, never this process or any of its
 * ancestors (the agent, its supervisor, the shell that started it), so a mistaken target can
 * not take the agent or the system down with it. A process that cleared DISPLAY (a daemon that
 * double-forked away) is not matched: we only end what we identified.
 */
export function findSessionProcesses(display: string, uid: number, procRoot = '/proc', selfPid = process.pid): SessionProcess[] {
  const protectedPids = new Set<number>([1, selfPid]);
  for (let pid = selfPid, hops = 0; pid > 1 && hops < 64; hops++) {
    const info = readStat(procRoot, pid);
    if (!info) break;
    protectedPids.add(info.ppid);
    pid = info.ppid;
  }
  const found: SessionProcess[] = [];
  for (const name of readdirSync(procRoot)) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (protectedPids.has(pid)) continue;
    if (realUid(procRoot, pid) !== uid) continue;
    if (environValue(procRoot, pid, 'DISPLAY') !== display) continue;
    const info = readStat(procRoot, pid);
    if (info) found.push({ pid, startTime: info.startTime, comm: info.comm });
  }
  return found;
}

/** Whether `p` is still the same process (pid not reused since we identified it). */
export function stillSame(p: SessionProcess, procRoot = '/proc'): boolean {
  return readStat(procRoot, p.pid)?.startTime === p.startTime;
}

/**
 * The X authority file a followed session's own programs use (display managers put it in
 * different places), so the agent's X clients (xprintidle, lockers) can connect to its display.
 */
export function sessionXauthority(display: string, uid: number, procRoot = '/proc'): string | undefined {
  for (const p of findSessionProcesses(display, uid, procRoot)) {
    const value = environValue(procRoot, p.pid, 'XAUTHORITY');
    if (value) return value;
  }
  return undefined;
}
