import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import type { WatcherKind } from '../../../shared/exec.js';
import type { ObservedProcess, ProcessWatchBackend, TerminateOutcome } from '../../exec/fallback.js';
import { hashFileAt } from '../../exec/hash-file.js';
import { identityTrustedAt, sameFileHere } from './exec-gate.js';
import { loadNativeAddon } from './native-addon.js';
import { processUser } from './proc-user.js';

/**
 * The Linux fallback watcher's backends. Both judge processes by /proc/PID/exe (the program the
 * kernel is running, whatever its argv says) and end them with a pid-reuse-safe kill.
 *
 * - proc-connector: the kernel announces every exec over netlink (PROC_EVENT_EXEC) the moment
 *   it happens; needs CAP_NET_ADMIN (root). Lifetime is measured from the kernel's exec stamp.
 * - proc-poll: without that right, /proc is listed every `intervalMs` (inotify cannot see execs,
 *   and /proc has no change notification). New pids are inspected at once; pids seen in the
 *   last `youngMs` are re-inspected each round, because a fork is usually followed by its exec a
 *   moment later; every `sweepMs` all known pids are re-checked for a late exec. Lifetime is
 *   measured from the process's start (fork) time, in clock ticks, so it reads slightly long.
 */

/** The native/procwatch addon (see native/procwatch/src/procwatch.cc). */
export interface ProcwatchAddon {
  open(onExec: (event: { pid: number; timestampNs: bigint }) => void): unknown;
  close(handle: unknown): void;
  stats(handle: unknown): Record<string, number>;
  killIfSame(pid: number, startTicks: bigint, dev: bigint, ino: bigint): TerminateOutcome;
  monotonicNs(): bigint;
  bootTimeNs(): bigint;
}

let addon: ProcwatchAddon | null | undefined;
/** The addon, or null where it is not built (then: polling, and a JS kill with a tiny race). */
export function procwatchAddon(): ProcwatchAddon | null {
  if (addon === undefined) {
    try {
      addon = loadNativeAddon<ProcwatchAddon>('procwatch', 'vigil_procwatch', process.env.VIGIL_PROCWATCH_ADDON);
    } catch {
      addon = null;
    }
  }
  return addon;
}

/** USER_HZ: the unit of /proc/PID/stat's start time; 100 in the ABI of every mainstream architecture. */
const TICKS_PER_SECOND = 100n;

export interface LinuxProcess extends ObservedProcess {
  startTicks: bigint;
  /** CLOCK_MONOTONIC ns of the exec, from the proc connector; null when polled. */
  execNs: bigint | null;
}

/** Start time in clock ticks after boot (field 22 of /proc/PID/stat); null if unreadable. */
export function parseStartTicks(stat: string): bigint | null {
  // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const value = fields[22 - 3];
  return value && /^\d+$/.test(value) ? BigInt(value) : null;
}

/** What /proc says about a process now; null for kernel threads, ended processes, or no access. */
export function inspectProcess(pid: number, execNs: bigint | null = null): LinuxProcess | null {
  try {
    const startTicks = parseStartTicks(readFileSync(`/proc/${pid}/stat`, 'latin1'));
    if (startTicks === null) return null;
    const uid = statSync(`/proc/${pid}`).uid;
    const path = readlinkSync(`/proc/${pid}/exe`); // ENOENT for kernel threads, EACCES for others' processes
    const st = statSync(`/proc/${pid}/exe`, { bigint: true });
    return {
      pid,
      uid,
      user: processUser(pid),
      start: String(startTicks),
      startTicks,
      execNs,
      path,
      dev: st.dev,
      ino: st.ino,
      size: Number(st.size),
      ctimeSec: Number(st.ctimeNs / 1_000_000_000n),
      ctimeNsec: Number(st.ctimeNs % 1_000_000_000n),
    };
  } catch {
    return null;
  }
}

function bootTimeNs(): bigint {
  const native = procwatchAddon();
  if (native) return native.bootTimeNs();
  const [up] = readFileSync('/proc/uptime', 'latin1').split(' ');
  return BigInt(Math.round(Number(up) * 1e3)) * 1_000_000n;
}

/** Kill only if `p.pid` still runs the judged program (start time and executable unchanged). */
function killIfSame(p: LinuxProcess): TerminateOutcome {
  const native = procwatchAddon();
  if (native) return native.killIfSame(p.pid, p.startTicks, p.dev, p.ino);
  // Without pidfd there is a window of microseconds between the check and the signal.
  const now = inspectProcess(p.pid);
  if (!now) return 'gone';
  if (now.startTicks !== p.startTicks || now.dev !== p.dev || now.ino !== p.ino) return 'changed';
  try {
    process.kill(p.pid, 'SIGKILL');
    return 'killed';
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH' ? 'gone' : 'denied';
  }
}

function livedMs(p: LinuxProcess): number {
  const native = procwatchAddon();
  if (p.execNs !== null && native) return Number(native.monotonicNs() - p.execNs) / 1e6;
  return Number(bootTimeNs() - (p.startTicks * 1_000_000_000n) / TICKS_PER_SECOND) / 1e6;
}

export interface ProcScanOptions {
  intervalMs?: number;
  youngMs?: number;
  sweepMs?: number;
}

abstract class LinuxBackend implements ProcessWatchBackend<LinuxProcess> {
  abstract readonly kind: WatcherKind;
  /**
   * pid -> what was last seen for it: the program's (dev, ino) (null: unreadable, e.g. a kernel
   * thread), its start ticks, and when the pid was first seen (0: already there at start).
   */
  protected readonly known = new Map<number, { exe: string | null; start: bigint | null; seenAt: number }>();
  protected onProcess: (p: LinuxProcess) => void = () => {};

  abstract start(onProcess: (p: LinuxProcess) => void): Promise<void>;
  abstract stop(): void;

  hash(p: LinuxProcess): Promise<string | null> {
    return hashFileAt(`/proc/${p.pid}/exe`, p);
  }
  identityTrusted(p: LinuxProcess): boolean {
    return identityTrustedAt(`/proc/${p.pid}/exe`, p);
  }
  sameFileHere(p: LinuxProcess): boolean {
    return sameFileHere(p);
  }
  async terminate(p: LinuxProcess): Promise<{ outcome: TerminateOutcome; livedMs: number | null }> {
    const outcome = killIfSame(p);
    return { outcome, livedMs: outcome === 'killed' ? livedMs(p) : null };
  }

  /** Reports the process if it runs a program not yet reported for this pid. */
  protected look(pid: number, execNs: bigint | null = null, baseline = false): void {
    const p = inspectProcess(pid, execNs);
    const previous = this.known.get(pid);
    const seenAt = baseline ? 0 : Date.now();
    if (!p) {
      if (!previous) this.known.set(pid, { exe: null, start: null, seenAt });
      return;
    }
    const exe = `${p.dev}:${p.ino}`;
    const samePid = previous?.start === p.startTicks;
    if (samePid && previous.exe === exe) return;
    this.known.set(pid, { exe, start: p.startTicks, seenAt: samePid ? previous.seenAt : seenAt });
    this.onProcess(p);
  }

  /**
   * A cheap re-check of a known pid: one stat of /proc/PID/exe. Only when the program differs
   * from the one seen (an exec since) is the process inspected and judged again.
   */
  protected recheck(pid: number): void {
    const known = this.known.get(pid);
    let exe: string | null = null;
    try {
      const st = statSync(`/proc/${pid}/exe`, { bigint: true });
      exe = `${st.dev}:${st.ino}`;
    } catch {
      return; // gone, a kernel thread, or not ours to read
    }
    if (known?.exe !== exe) this.look(pid);
  }

  /** Forgets pids that are gone (the proc connector reports execs, not exits). */
  protected prune(): void {
    const alive = new Set(readdirSync('/proc'));
    for (const pid of this.known.keys()) if (!alive.has(String(pid))) this.known.delete(pid);
  }

  /** Lists /proc: new pids are looked at, known ones re-checked if `due`; gone ones forgotten. */
  protected scan(due: (seenAt: number) => boolean, baseline = false): void {
    const alive = new Set<number>();
    for (const name of readdirSync('/proc')) {
      const pid = Number(name);
      if (!Number.isInteger(pid) || pid <= 0) continue;
      alive.add(pid);
      const known = this.known.get(pid);
      if (!known) this.look(pid, null, baseline);
      else if (due(known.seenAt)) this.recheck(pid);
    }
    for (const pid of this.known.keys()) if (!alive.has(pid)) this.known.delete(pid);
  }
}

/** Polls /proc (any user; see the file comment for the rhythm). */
export class ProcPollBackend extends LinuxBackend {
  readonly kind = 'proc-poll' as const;
  private timer: NodeJS.Timeout | null = null;
  private lastSweep = 0;
  readonly intervalMs: number;
  private readonly youngMs: number;
  private readonly sweepMs: number;

  constructor(options: ProcScanOptions = {}) {
    super();
    this.intervalMs = options.intervalMs ?? 25;
    this.youngMs = options.youngMs ?? 2000;
    this.sweepMs = options.sweepMs ?? 1000;
  }

  async start(onProcess: (p: LinuxProcess) => void): Promise<void> {
    this.onProcess = onProcess;
    this.round();
    this.timer = setInterval(() => this.round(), this.intervalMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private round(): void {
    const now = Date.now();
    const first = this.lastSweep === 0;
    const sweep = now - this.lastSweep >= this.sweepMs;
    if (sweep) this.lastSweep = now;
    // Pids there at start are not "young": they are judged once, then swept like the rest.
    this.scan((seenAt) => sweep || now - seenAt < this.youngMs, first);
  }
}

/** The proc connector (root): every exec is announced by the kernel as it happens. */
export class ProcConnectorBackend extends LinuxBackend {
  readonly kind = 'proc-connector' as const;
  private handle: unknown = null;
  private started = false;
  private pruneTimer: NodeJS.Timeout | null = null;

  constructor(private readonly native: ProcwatchAddon) {
    super();
  }

  /** Subscribes to the kernel's exec events; throws (code EPERM) where that is not permitted. */
  open(): void {
    this.handle = this.native.open(({ pid, timestampNs }) => {
      if (!this.started) return; // the start scan sees programs that began before it
      // A new exec of a known pid is a new program: forget what was judged for it.
      this.known.delete(pid);
      this.look(pid, timestampNs);
    });
  }

  async start(onProcess: (p: LinuxProcess) => void): Promise<void> {
    if (!this.handle) this.open();
    this.onProcess = onProcess;
    this.started = true;
    // Programs that were already running when the watcher started.
    this.scan(() => false, true);
    this.pruneTimer = setInterval(() => this.prune(), 10_000);
    this.pruneTimer.unref();
  }

  stop(): void {
    if (this.handle) this.native.close(this.handle);
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    this.handle = null;
    this.pruneTimer = null;
    this.started = false;
  }

  stats(): Record<string, number> {
    return this.handle ? this.native.stats(this.handle) : {};
  }
}

/**
 * The best watcher this process may run: the proc connector where permitted (root with
 * CAP_NET_ADMIN and the addon built), else /proc polling. `detail` says which and why.
 */
export function linuxWatchBackend(options: ProcScanOptions & { prefer?: 'proc-connector' | 'proc-poll' } = {}): {
  backend: ProcessWatchBackend<LinuxProcess>;
  detail: string;
} {
  const native = procwatchAddon();
  let why = native ? 'polling was asked for' : 'the procwatch addon is not built';
  if (native && options.prefer !== 'proc-poll') {
    const connector = new ProcConnectorBackend(native);
    try {
      connector.open();
      return {
        backend: connector,
        detail: 'proc-connector watcher: the kernel reports each exec (netlink PROC_EVENT_EXEC); unapproved programs are killed just after they start',
      };
    } catch (error) {
      why = `the proc connector refused: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`;
    }
  }
  const poll = new ProcPollBackend(options);
  return {
    backend: poll,
    detail: `proc-poll watcher: /proc listed every ${poll.intervalMs} ms (${why}); unapproved programs are killed soon after they start`,
  };
}
