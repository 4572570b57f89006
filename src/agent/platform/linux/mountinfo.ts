import { EventEmitter } from 'node:events';
import { readFile } from 'node:fs/promises';

/** One line of /proc/<pid>/mountinfo (proc(5)). */
export interface MountEntry {
  /** Unique while mounted; the kernel may reuse it after an unmount. */
  mountId: number;
  parentId: number;
  major: number;
  minor: number;
  /** The directory of the file system that is mounted here (a bind mount shows a subdirectory). */
  root: string;
  mountPoint: string;
  mountOptions: string[];
  fsType: string;
  /** Device or source as the mount was made (e.g. /dev/sdb1, /dev/loop3, a FUSE name). */
  source: string;
  superOptions: string[];
}

/** Mountinfo escapes space, tab, newline and backslash in paths as octal (\040 ...). */
function unescapeOctal(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}

/** Parses one line; null for a line that does not have the documented shape. */
export function parseMountInfoLine(line: string): MountEntry | null {
  const fields = line.split(' ');
  const separator = fields.indexOf('-', 6);
  if (fields.length < 10 || separator < 0 || fields.length < separator + 3) return null;
  const [mountId, parentId, devno, root, mountPoint, options] = fields;
  const dev = /^(\d+):(\d+)$/.exec(devno!);
  if (!dev || !/^\d+$/.test(mountId!) || !/^\d+$/.test(parentId!)) return null;
  return {
    mountId: Number(mountId),
    parentId: Number(parentId),
    major: Number(dev[1]),
    minor: Number(dev[2]),
    root: unescapeOctal(root!),
    mountPoint: unescapeOctal(mountPoint!),
    mountOptions: options!.split(','),
    fsType: fields[separator + 1]!,
    source: unescapeOctal(fields[separator + 2]!),
    superOptions: (fields[separator + 3] ?? '').split(',').filter(Boolean),
  };
}

export function parseMountInfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const entry = parseMountInfoLine(line);
    if (entry) entries.push(entry);
  }
  return entries;
}

/** Mount ids are reused, so a mount is known by its id together with what is mounted where. */
export function mountKey(m: MountEntry): string {
  return `${m.mountId}|${m.major}:${m.minor}|${m.mountPoint}|${m.root}`;
}

export interface MountChanges {
  mounted: MountEntry[];
  unmounted: MountEntry[];
  /** Same mount, new options (e.g. remounted read-only). */
  changed: MountEntry[];
}

export function diffMounts(before: readonly MountEntry[], after: readonly MountEntry[]): MountChanges {
  const old = new Map(before.map((m) => [mountKey(m), m]));
  const now = new Map(after.map((m) => [mountKey(m), m]));
  const changes: MountChanges = { mounted: [], unmounted: [], changed: [] };
  for (const [key, m] of now) {
    const previous = old.get(key);
    if (!previous) changes.mounted.push(m);
    else if (previous.mountOptions.join(',') !== m.mountOptions.join(',') || previous.superOptions.join(',') !== m.superOptions.join(',')) {
      changes.changed.push(m);
    }
  }
  for (const [key, m] of old) if (!now.has(key)) changes.unmounted.push(m);
  return changes;
}

export interface MountWatcherOptions {
  /** Default /proc/self/mountinfo: the mount namespace the agent runs in. */
  path?: string;
  /** How often the table is re-read. Reading it costs microseconds; 250 ms keeps reactions well under a second. */
  intervalMs?: number;
  read?: (path: string) => Promise<string>;
}

/**
 * Watches the mount table. Emits `mounted`, `unmounted` and `changed` with MountEntry values,
 * and `error` when the table cannot be read (the watcher keeps trying). The first read gives
 * the baseline: `current()` lists mounts that were there at start so callers can check them too.
 *
 * The kernel signals changes by POLLPRI on the mountinfo file, which Node cannot wait for, so
 * the table is re-read on a short timer instead.
 */
export class MountWatcher extends EventEmitter {
  private table: MountEntry[] = [];
  private timer: NodeJS.Timeout | null = null;
  private reading: Promise<void> | null = null;
  private readonly path: string;
  private readonly intervalMs: number;
  private readonly read: (path: string) => Promise<string>;

  constructor(options: MountWatcherOptions = {}) {
    super();
    this.path = options.path ?? '/proc/self/mountinfo';
    this.intervalMs = options.intervalMs ?? 250;
    this.read = options.read ?? ((p) => readFile(p, 'utf8'));
  }

  /** Reads the baseline and starts watching. Resolves with the mounts present now. */
  async start(): Promise<MountEntry[]> {
    this.table = parseMountInfo(await this.read(this.path));
    this.timer = setInterval(() => void this.poll(), this.intervalMs);
    this.timer.unref();
    return this.current();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  current(): MountEntry[] {
    return [...this.table];
  }

  /** Re-reads now (also used by tests and by callers that just changed a mount themselves). */
  poll(): Promise<void> {
    this.reading ??= this.readOnce().finally(() => {
      this.reading = null;
    });
    return this.reading;
  }

  private async readOnce(): Promise<void> {
    let next: MountEntry[];
    try {
      next = parseMountInfo(await this.read(this.path));
    } catch (error) {
      this.emit('error', error);
      return;
    }
    const changes = diffMounts(this.table, next);
    this.table = next;
    for (const m of changes.unmounted) this.emit('unmounted', m);
    for (const m of changes.mounted) this.emit('mounted', m);
    for (const m of changes.changed) this.emit('changed', m);
  }
}

/** dev_t as Linux (glibc) encodes it, to compare mountinfo's major:minor with stat's dev. */
export function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major);
  const mi = BigInt(minor);
  return ((ma & 0xfffff000n) << 32n) | ((ma & 0xfffn) << 8n) | ((mi & 0xffffff00n) << 12n) | (mi & 0xffn);
}
