import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { ActionResult, MountedVolume, RemovableDrive, UsbPlatform } from '../../usb/drives.js';
import { PollingVolumeWatcher } from '../../usb/polling-watcher.js';
import type { CommandRunner } from '../../session/platform.js';
import {
  parseVolumeChange,
  parseWin32Snapshot,
  WIN32_SNAPSHOT_SCRIPT,
  WIN32_WATCH_SCRIPT,
  win32BlockCommand,
  win32ReadOnlyCommand,
  win32RemovableVolumes,
} from './usb-volumes.js';

const POWERSHELL = ['-NoProfile', '-NonInteractive', '-Command'];

/** Starts a long-running command and hands each stdout line to `onLine`; returns its stop function. */
export type LineSource = (command: string, args: string[], onLine: (line: string) => void) => () => void;

const spawnLines: LineSource = (command, args, onLine) => {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'ignore'], windowsHide: true });
  child.on('error', () => undefined);
  createInterface({ input: child.stdout! }).on('line', onLine);
  return () => child.kill();
};

/**
 * The USB gate's Windows backend: removable volumes from a WMI/CIM snapshot (usb-volumes.ts),
 * re-read at once on each Win32_VolumeChangeEvent and every 5 s as a safety net should the
 * subscription die; responses through mountvol and Set-Disk. Only removable volumes are
 * listed, so the classifier answers from the last snapshot. Tested with recorded outputs, not
 * on Windows.
 */
export function win32UsbPlatform(runner: CommandRunner, intervalMs = 5000, lines: LineSource = spawnLines): UsbPlatform {
  const known = new Map<string, { drive: RemovableDrive; diskNumber: number | null }>();
  const run = async ([command, args]: [string, string[]]): Promise<ActionResult> => {
    const r = await runner.run(command, args, 30_000);
    return r.code === 0
      ? { ok: true, detail: `${command} ${args.join(' ')}` }
      : { ok: false, detail: (r.stderr.trim() || `${command} exited with ${r.code}`).slice(0, 300) };
  };
  const list = async (): Promise<MountedVolume[]> => {
    const r = await runner.run('powershell.exe', [...POWERSHELL, WIN32_SNAPSHOT_SCRIPT], 30_000);
    if (r.code !== 0) throw new Error(`volume snapshot failed: ${r.stderr.trim().slice(0, 300)}`);
    const snapshot = parseWin32Snapshot(r.stdout);
    const found = win32RemovableVolumes(snapshot);
    known.clear();
    for (const { volume, drive } of found) {
      const partition = snapshot.partitions.find((p) => (p.AccessPaths ?? []).some((a) => a.toLowerCase() === volume.source.toLowerCase()));
      known.set(volume.key, { drive, diskNumber: partition?.DiskNumber ?? null });
    }
    return found.map((f) => f.volume);
  };
  return {
    name: 'win32-cim',
    watcher: new PollingVolumeWatcher(list, intervalMs, (refresh) =>
      lines('powershell.exe', [...POWERSHELL, WIN32_WATCH_SCRIPT], (line) => {
        if (parseVolumeChange(line)) refresh();
      }),
    ),
    classifier: { classify: async (v) => known.get(v.key)?.drive ?? null },
    actions: {
      block: (v) => run(win32BlockCommand(v.mountPoint)),
      makeReadOnly: async (v) => {
        const disk = known.get(v.key)?.diskNumber;
        return disk === null || disk === undefined ? { ok: false, detail: 'disk number unknown' } : run(win32ReadOnlyCommand(disk));
      },
      isReadOnly: () => false,
    },
  };
}
