import { existsSync, realpathSync, statfsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExecAction, ExecGateRecord, ExecMode } from '../../../shared/exec.js';
import type { BuiltinAllow, ExecDecide } from '../../exec/decision.js';
import { ExecEvaluator, type PendingExec } from '../../exec/evaluator.js';
import { hashFileAt } from '../../exec/hash-file.js';
import { makedev, mountKey, MountWatcher, type MountEntry } from './mountinfo.js';
import { processUser } from './proc-user.js';
import { loadFanotifyAddon, type FanotifyAddon, type FanotifyDelivery, type GateHandle } from './fanotify-addon.js';

export interface LinuxExecGateOptions {
  /** What to mark; `mount` marks the mount holding the path, `filesystem` the whole file system. */
  marks: { path: string; kind: 'mount' | 'filesystem' }[];
  decide: ExecDecide;
  mode: ExecMode;
  /**
   * What the kernel is told when no decision arrives within `deadlineMs` (JS stalled, or hashing
   * a large new file took too long): 'allow' = fail-open, 'deny' = fail-closed.
   */
  onTimeout: ExecAction;
  deadlineMs?: number;
  /** Extra always-allow paths on top of `systemBuiltins()`. */
  extraBuiltins?: string[];
  onRecord: (record: ExecGateRecord) => void;
  /**
   * Also mark every file system mounted later below a marked path (a USB stick under /media, a
   * loop or FUSE mount under /home), as it appears in the mount table. Default true.
   */
  followMounts?: boolean;
  /** Diagnostics only: block the JS thread this long per event, to prove the native deadline. */
  stallMs?: number;
}

export const DEFAULT_DEADLINE_MS = 250;

/**
 * The agent's installation (or repository) root: the nearest directory with a package.json.
 * Refuses to answer "/" (that would always-allow the whole root file system).
 */
function agentRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  if (dirname(dir) === dir) throw new Error('cannot find the agent installation directory (no package.json above it)');
  return dir;
}

/**
 * Always allowed, whatever the policy: the OS's program directories, its configuration (hooks
 * and scripts run from /etc), the Node binary and the agent's own files. Symlinks (/bin ->
 * /usr/bin on merged-/usr systems) are resolved because the kernel reports resolved paths.
 */
export function systemBuiltins(
  extra: string[] = [],
  onRefused: (path: string, why: string) => void = (path, why) => process.stderr.write(`vigil: not always-allowing ${path}: ${why}\n`),
): BuiltinAllow[] {
  const paths = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/etc', process.execPath, agentRoot(), ...extra];
  const seen = new Map<string, BuiltinAllow>();
  for (const path of paths) {
    let real: string;
    try {
      real = realpathSync(path).replace(/(.)\/+$/, '$1');
    } catch {
      continue; // absent on this system (e.g. /libx32): nothing to allow
    }
    const problem = untrustworthyBecause(real);
    if (problem) {
      onRefused(real, problem);
      continue;
    }
    seen.set(real, { path: real, dev: statSync(real, { bigint: true }).dev });
  }
  return [...seen.values()];
}

/**
 * An always-allowed path is only safe if no pupil can put a program there: it must be owned by
 * root and writable by nobody else, and so must every directory above it — except that a
 * root-owned sticky directory (like /tmp) above it is fine, since nobody else can rename or
 * replace what root created in it. Returns the reason a path is unsafe, or null.
 */
export function untrustworthyBecause(real: string, stat: (p: string) => { uid: number; mode: number } = statSync): string | null {
  const check = (p: string, self: boolean): string | null => {
    const st = stat(p);
    if (st.uid !== 0) return `${p} is owned by uid ${st.uid}, not root`;
    const othersCanWrite = (st.mode & 0o022) !== 0;
    const sticky = (st.mode & 0o1000) !== 0;
    if (othersCanWrite && (self || !sticky)) return `${p} is writable by users other than root`;
    return null;
  };
  const own = check(real, true);
  if (own) return own;
  for (let dir = dirname(real); ; dir = dirname(dir)) {
    const problem = check(dir, false);
    if (problem) return problem;
    if (dirname(dir) === dir) return null;
  }
}

/**
 * File systems whose ctime a user can choose (it follows mtime on FAT/exFAT; FUSE and network
 * file systems report what their server says), so (dev, ino, size, ctime) proves nothing there.
 */
const UNTRUSTED_CTIME_FS = new Set([
  0x4d44, // msdos / vfat
  0x2011bab0, // exfat
  0x65735546, // fuse
  0x5346544e, // ntfs (ntfs-3g)
  0x7366746e, // ntfs3
  0x6969, // nfs
  0xff534d42, // cifs
  0xfe534d42, // smb2
  0x9660, // iso9660
  0x15013346, // udf
]);
/** Seconds during which a file's ctime may not yet reflect a rewrite (coarse kernel clocks). */
const RACY_SECONDS = 2;

/** Whether a pending file's identity may stand for its content later (see EvaluatorOptions). */
export function identityTrusted(fd: number, exec: { ctimeSec: number }, nowSeconds = Date.now() / 1000): boolean {
  return identityTrustedAt(`/proc/self/fd/${fd}`, exec, nowSeconds);
}

/** The same for a file named by path (the fallback watcher reads /proc/PID/exe). */
export function identityTrustedAt(path: string, exec: { ctimeSec: number }, nowSeconds = Date.now() / 1000): boolean {
  if (exec.ctimeSec >= nowSeconds - RACY_SECONDS) return false;
  try {
    return !UNTRUSTED_CTIME_FS.has(statfsSync(path).type);
  } catch {
    return false;
  }
}

/** The path resolved in this process's namespace names the event's file (same device and inode). */
export function sameFileHere(exec: { path: string; dev: bigint; ino: bigint }): boolean {
  try {
    const here = statSync(exec.path, { bigint: true });
    return here.dev === exec.dev && here.ino === exec.ino;
  } catch {
    return false;
  }
}

/**
 * SHA-256 of the file behind a pending event, read through /proc/self/fd/N (the event's own
 * fd, so a rename or unlink in the meantime changes nothing). The fd number can be reused once
 * the event is answered, so the opened file must still be the event's file (device + inode),
 * and its size and ctime must be unchanged after reading, or the hash is not trusted.
 */
export function hashEventFile(fd: number, exec: PendingExec): Promise<string | null> {
  return hashFileAt(`/proc/self/fd/${fd}`, exec);
}

/**
 * Whether a newly seen mount can hold programs to check: not mounted noexec, and not one of the
 * kernel's pseudo file systems (they hold no programs, and fanotify refuses some of them).
 */
const PSEUDO_FS = new Set([
  'proc',
  'sysfs',
  'cgroup',
  'cgroup2',
  'devpts',
  'mqueue',
  'debugfs',
  'tracefs',
  'securityfs',
  'pstore',
  'bpf',
  'configfs',
  'fusectl',
  'hugetlbfs',
  'binfmt_misc',
  'autofs',
  'nsfs',
  'efivarfs',
  'selinuxfs',
  'rpc_pipefs',
  'devtmpfs',
]);
export function needsMark(entry: MountEntry): boolean {
  return !entry.mountOptions.includes('noexec') && !PSEUDO_FS.has(entry.fsType);
}

/** The file system at the entry's mount point is still the one the mount table named. */
function mountedHere(entry: MountEntry): boolean {
  try {
    return statSync(entry.mountPoint, { bigint: true }).dev === makedev(entry.major, entry.minor);
  } catch {
    return false;
  }
}

/**
 * The Linux pre-exec gate: fanotify FAN_OPEN_EXEC_PERM through the native addon, decisions by
 * the platform-free ExecEvaluator. The addon guarantees every event an answer within the
 * deadline; this class tries to give it the policy's answer first.
 */
export class LinuxExecGate {
  private readonly addon: FanotifyAddon;
  private handle: GateHandle | null = null;
  private mounts: MountWatcher | null = null;
  private remountTimer: NodeJS.Timeout | null = null;
  private readonly marked = new Set<string>();
  private readonly evaluator: ExecEvaluator<PendingExec & { fd: number }>;
  readonly builtins: BuiltinAllow[];

  constructor(private readonly options: LinuxExecGateOptions) {
    this.addon = loadFanotifyAddon();
    this.builtins = systemBuiltins(options.extraBuiltins);
    this.evaluator = new ExecEvaluator<PendingExec & { fd: number }>(
      { builtins: this.builtins, hash: (exec) => hashEventFile(exec.fd, exec), sameFileHere, identityTrusted: (exec) => identityTrusted(exec.fd, exec) },
      { decide: options.decide, mode: options.mode },
    );
  }

  get deadlineMs(): number {
    return this.options.deadlineMs ?? DEFAULT_DEADLINE_MS;
  }

  start(): void {
    this.handle = this.addon.open(
      {
        deadlineMs: this.deadlineMs,
        defaultAllow: this.options.onTimeout === 'allow',
        allowPrefixes: this.builtins.map((b) => ({ dir: b.path, dev: b.dev })),
      },
      (delivery) => this.onDelivery(delivery),
    );
    try {
      for (const mark of this.options.marks) this.addon.mark(this.handle, mark.path, mark.kind);
    } catch (error) {
      this.stop();
      throw error;
    }
    if (this.options.followMounts !== false) void this.followMounts();
  }

  /**
   * Marks (FAN_MARK_FILESYSTEM) the file systems mounted below a marked path: those present now
   * and each new one as the mount table shows it. A mark holds the superblock, so bind mounts
   * and copies in other mount namespaces are covered too. Until the table is next read (250 ms)
   * a brand-new mount is not yet checked.
   */
  private async followMounts(): Promise<void> {
    const roots = this.options.marks.map((m) => m.path.replace(/(.)\/+$/, '$1'));
    // A mount made later exactly on a marked path (a stick mounted on /media itself) counts too;
    // at start, the file system at a marked path is the one already marked.
    const below = (mountPoint: string, orAt: boolean) =>
      roots.some((root) => (orAt && mountPoint === root) || (mountPoint !== root && mountPoint.startsWith(root === '/' ? '/' : `${root}/`)));
    const consider = (entry: MountEntry, isNew: boolean) => {
      if (!this.handle || !below(entry.mountPoint, isNew) || !needsMark(entry)) return;
      // A table read just before an unmount still lists the mount; marking its directory then
      // would mark the parent file system and leave the mount that follows unmarked until the
      // next round. Only the file system the table names is marked.
      if (!mountedHere(entry)) return;
      // Keyed by the mount's unique id: unmounted and mounted again at once, a file system may
      // come back under the same (reused) id in mountinfo, but it is a new superblock to mark.
      const key = `${entry.mountPoint}\0${this.addon.mountId(entry.mountPoint)}`;
      if (this.marked.has(key)) return;
      this.marked.add(key);
      try {
        this.addon.mark(this.handle, entry.mountPoint, 'filesystem');
        this.options.onRecord({ type: 'mark', path: entry.mountPoint, fsType: entry.fsType, kind: 'filesystem' });
      } catch (error) {
        this.options.onRecord({ type: 'error', message: `cannot mark ${entry.mountPoint} (${entry.fsType}): ${(error as Error).message}` });
      }
    };
    const watcher = new MountWatcher();
    this.mounts = watcher;
    let baseline: MountEntry[] = [];
    watcher.on('mounted', (entry: MountEntry) => consider(entry, true));
    watcher.on('changed', (entry: MountEntry) => consider(entry, true)); // remounted without noexec
    watcher.on('error', (error: Error) => this.options.onRecord({ type: 'error', message: `reading the mount table: ${error.message}` }));
    try {
      baseline = await watcher.start();
      for (const entry of baseline) consider(entry, false);
    } catch (error) {
      this.options.onRecord({ type: 'error', message: `cannot watch the mount table: ${(error as Error).message}` });
      return;
    }
    // Each round, the followed mounts are checked by unique id too (the diff cannot see a
    // remount that reused the id).
    const atStart = new Set(baseline.map(mountKey));
    this.remountTimer = setInterval(() => {
      for (const entry of watcher.current()) consider(entry, !atStart.has(mountKey(entry)));
      if (this.marked.size > 4096) this.marked.clear(); // bounded; re-marking is harmless
    }, 250);
    this.remountTimer.unref();
  }

  setPolicy(policy: { decide: ExecDecide; mode: ExecMode }): void {
    this.options.mode = policy.mode;
    this.evaluator.setPolicy(policy);
    // Natively cached allows were decided by the old policy.
    if (this.handle) this.addon.clearCache(this.handle);
  }

  stats(): Record<string, number> {
    return this.handle ? { ...this.addon.stats(this.handle), cachedHashes: this.evaluator.cache.size } : {};
  }

  /** Closing the fanotify fd removes every mark; anything still pending is answered first. */
  stop(): void {
    this.mounts?.stop();
    this.mounts = null;
    if (this.remountTimer) clearInterval(this.remountTimer);
    this.remountTimer = null;
    this.marked.clear();
    if (!this.handle) return;
    this.addon.close(this.handle);
    this.handle = null;
  }

  private onDelivery(delivery: FanotifyDelivery): void {
    if (delivery.type === 'timeout') {
      this.options.onRecord({ type: 'timeout', id: delivery.id, applied: delivery.allowed ? 'allow' : 'deny' });
      return;
    }
    if (this.options.stallMs) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, this.options.stallMs);
    void this.decideOne(delivery);
  }

  private async decideOne(event: Extract<FanotifyDelivery, { type: 'exec' }>): Promise<void> {
    const { id, fd, pid, path, dev, ino, size, ctimeSec, ctimeNsec, mountId } = event;
    let answered = false;
    try {
      const result = await this.evaluator.evaluate({ fd, pid, path, dev, ino, size, ctimeSec, ctimeNsec, mountId });
      // Plain allows may be answered natively next time; would-be blocks are reported every time.
      const cacheable = result.respond === 'allow' && !result.wouldBlock && result.identityTrusted;
      // Who runs it is read while the exec still waits: once refused, the process may be gone.
      const user = result.verdict.action === 'deny' ? processUser(pid) : undefined;
      if (this.handle) answered = this.addon.respond(this.handle, id, result.respond === 'allow', cacheable);
      this.options.onRecord({
        type: 'exec',
        id,
        pid,
        path,
        sha256: result.sha256,
        verdict: result.verdict.action,
        reason: result.verdict.reason,
        ...(result.verdict.ruleId ? { ruleId: result.verdict.ruleId } : {}),
        ...(result.verdict.exception ? { exception: true } : {}),
        mode: result.mode,
        wouldBlock: result.wouldBlock,
        answered,
        cached: result.cached,
        decideMs: Math.round(result.ms * 1000) / 1000,
        ...(user !== undefined ? { user } : {}),
      });
    } catch (error) {
      // Left for the native deadline to answer with the configured default.
      this.options.onRecord({ type: 'error', message: `deciding ${path}: ${(error as Error).message}` });
    }
  }
}
