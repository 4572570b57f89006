import { EventEmitter } from 'node:events';
import { readFile } from 'node:fs/promises';
import { blkid } from '../../../shared/node/blkid.js';
import type { ActionResult, DriveActions, MountedVolume, UsbPlatform, VolumeWatcher } from '../../usb/drives.js';
import { nodeCommandRunner } from '../../session/node-runner.js';
import type { CommandRunner } from '../../session/platform.js';
import { mountKey, MountWatcher, parseMountInfo, type MountEntry } from './mountinfo.js';
import { LinuxDriveClassifier, type LinuxClassifierOptions } from './removable.js';

/** Per-mount flags the read-only response sets; `ro` alone would still let programs run. */
export const READ_ONLY_FLAGS = ['ro', 'noexec', 'nosuid', 'nodev'] as const;

export function toVolume(m: MountEntry): MountedVolume {
  return { key: mountKey(m), mountPoint: m.mountPoint, source: m.source, fsType: m.fsType, major: m.major, minor: m.minor, options: m.mountOptions };
}

/** The existing mountinfo watcher, speaking MountedVolume. */
class LinuxVolumeWatcher extends EventEmitter implements VolumeWatcher {
  constructor(readonly mounts: MountWatcher) {
    super();
    for (const kind of ['mounted', 'unmounted', 'changed'] as const) mounts.on(kind, (m: MountEntry) => this.emit(kind, toVolume(m)));
    mounts.on('error', (error: unknown) => this.emit('error', error));
  }
  async start(): Promise<MountedVolume[]> {
    return (await this.mounts.start()).map(toVolume);
  }
  stop(): void {
    this.mounts.stop();
  }
  /** Twice: a read already under way may have started before the change. */
  async refresh(): Promise<void> {
    await this.mounts.poll();
    await this.mounts.poll();
  }
}

/**
 * Block: `umount`; a busy drive (a pupil's file still open) is first made read-only and
 * non-executable, then detached lazily (`umount -l`): it disappears from the file tree at once
 * and the kernel lets go when the last file closes. Linux cannot eject a stick from software
 * without udisks; unmounted, it holds nothing a pupil can use until it is scanned.
 * Read-only: a bind remount changes only this mount's flags, which works for every file system
 * (ext4, vfat, FUSE) and leaves the device itself alone; the mount table is read back to check.
 */
export class LinuxDriveActions implements DriveActions {
  constructor(
    private readonly runner: CommandRunner = nodeCommandRunner(),
    private readonly mountinfoPath = '/proc/self/mountinfo',
  ) {}

  async block(volume: MountedVolume): Promise<ActionResult> {
    const first = await this.runner.run('umount', [volume.mountPoint], 10_000);
    if (first.code === 0 && !(await this.stillMounted(volume))) return { ok: true, detail: 'unmounted' };
    const why = (first.stderr.trim() || `umount exited with ${first.code}`).slice(0, 200);
    const ro = await this.makeReadOnly(volume);
    const lazy = await this.runner.run('umount', ['-l', volume.mountPoint], 10_000);
    if (lazy.code === 0 && !(await this.stillMounted(volume))) {
      return { ok: true, detail: `detached (busy: ${why}); ${ro.ok ? 'made read-only first' : `read-only first failed: ${ro.detail}`}` };
    }
    return { ok: false, detail: `could not unmount: ${why}; ${lazy.stderr.trim().slice(0, 200)}; ${ro.detail}` };
  }

  async makeReadOnly(volume: MountedVolume): Promise<ActionResult> {
    const r = await this.runner.run('mount', ['-o', `remount,bind,${READ_ONLY_FLAGS.join(',')}`, volume.mountPoint], 10_000);
    const now = (await this.table()).find((m) => mountKey(m) === volume.key);
    if (!now) return { ok: false, detail: 'the drive is no longer mounted' };
    const missing = READ_ONLY_FLAGS.filter((f) => !now.mountOptions.includes(f));
    if (missing.length === 0) return { ok: true, detail: `remounted ${READ_ONLY_FLAGS.join(',')}` };
    return { ok: false, detail: `remount failed (${(r.stderr.trim() || `exit ${r.code}`).slice(0, 200)}); still missing ${missing.join(',')}` };
  }

  /** The per-mount flags the volume had when it was seen (rw, exec, suid...). */
  async restore(volume: MountedVolume): Promise<ActionResult> {
    const wanted = volume.options.filter((o) => /^[a-z]+$/.test(o));
    const opposites: Record<string, string> = { ro: 'rw', noexec: 'exec', nosuid: 'suid', nodev: 'dev' };
    // Flags the volume did not have are switched off explicitly (a bind remount keeps the rest).
    const off = READ_ONLY_FLAGS.filter((f) => !wanted.includes(f)).map((f) => opposites[f]!);
    const r = await this.runner.run('mount', ['-o', ['remount', 'bind', ...wanted, ...off].join(','), volume.mountPoint], 10_000);
    const now = (await this.table()).find((m) => mountKey(m) === volume.key);
    if (!now) return { ok: false, detail: 'the drive is no longer mounted' };
    const wrong = READ_ONLY_FLAGS.filter((f) => now.mountOptions.includes(f) !== wanted.includes(f));
    if (wrong.length === 0) return { ok: true, detail: `restored ${wanted.join(',')}` };
    return { ok: false, detail: `remount failed (${(r.stderr.trim() || `exit ${r.code}`).slice(0, 200)}); still differs in ${wrong.join(',')}` };
  }

  isReadOnly(volume: MountedVolume): boolean {
    return READ_ONLY_FLAGS.every((f) => volume.options.includes(f));
  }

  private async table(): Promise<MountEntry[]> {
    return parseMountInfo(await readFile(this.mountinfoPath, 'utf8'));
  }

  private async stillMounted(volume: MountedVolume): Promise<boolean> {
    return (await this.table()).some((m) => mountKey(m) === volume.key);
  }
}

export function linuxUsbPlatform(options: LinuxClassifierOptions & { intervalMs?: number } = {}): UsbPlatform {
  return {
    name: 'linux-mountinfo',
    watcher: new LinuxVolumeWatcher(new MountWatcher({ intervalMs: options.intervalMs })),
    classifier: new LinuxDriveClassifier({ probe: blkid, ...options }),
    actions: new LinuxDriveActions(),
  };
}
