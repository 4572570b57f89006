import { open } from 'node:fs/promises';
import type { ActionResult, MountedVolume, RemovableDrive, UsbPlatform } from '../../usb/drives.js';
import { PollingVolumeWatcher } from '../../usb/polling-watcher.js';
import { volumeIdFromBootSector } from '../../usb/volume-id.js';
import type { CommandRunner } from '../../session/platform.js';
import { darwinBlockCommand, darwinDriveFromInfo, darwinReadOnlyCommand, darwinUsbSerial, parseDarwinMount, parsePlist } from './usb-volumes.js';

async function readBootSector(device: string): Promise<Buffer | null> {
  // The raw node (/dev/rdiskNsM) reads without the buffer cache; root only.
  const handle = await open(device.replace(/^\/dev\/disk/, '/dev/rdisk'), 'r').catch(() => null);
  if (!handle) return null;
  try {
    const buf = Buffer.alloc(512);
    const { bytesRead } = await handle.read(buf, 0, 512, 0);
    return bytesRead === 512 ? buf : null;
  } finally {
    await handle.close();
  }
}

/**
 * The USB gate's macOS backend: the mount table polled with `mount`, each new /dev/disk mount
 * described by `diskutil info -plist`, its USB serial from system_profiler and its FAT/exFAT
 * id from the boot sector. Responses: `diskutil eject`, `mount -u -o rdonly,noexec,...`.
 * Tested with recorded outputs, not on a Mac.
 */
export function darwinUsbPlatform(runner: CommandRunner, intervalMs = 1000, readSector = readBootSector): UsbPlatform {
  const drives = new Map<string, (RemovableDrive & { wholeDisk: string }) | null>();
  const run = async ([command, args]: [string, string[]]): Promise<ActionResult> => {
    const r = await runner.run(command, args, 30_000);
    return r.code === 0
      ? { ok: true, detail: `${command} ${args.join(' ')}` }
      : { ok: false, detail: (r.stderr.trim() || `${command} exited with ${r.code}`).slice(0, 300) };
  };
  const describe = async (v: MountedVolume) => {
    if (drives.has(v.key)) return drives.get(v.key)!;
    const info = await runner.run('diskutil', ['info', '-plist', v.mountPoint], 15_000);
    const drive = info.code === 0 ? darwinDriveFromInfo(parsePlist(info.stdout)) : null;
    if (drive) {
      const sector = await readSector(drive.device);
      const id = sector ? volumeIdFromBootSector(sector) : null;
      drive.fsUuid = id?.id ?? null;
      const usb = await runner.run('system_profiler', ['SPUSBDataType', '-json'], 30_000);
      drive.usbSerial = usb.code === 0 ? darwinUsbSerial(usb.stdout, drive.wholeDisk) : null;
    }
    drives.set(v.key, drive);
    return drive;
  };
  const list = async (): Promise<MountedVolume[]> => {
    const r = await runner.run('mount', [], 10_000);
    if (r.code !== 0) throw new Error(`mount failed: ${r.stderr.trim().slice(0, 300)}`);
    const mounts = parseDarwinMount(r.stdout).filter((m) => m.source.startsWith('/dev/disk'));
    for (const key of drives.keys()) if (!mounts.some((m) => m.key === key)) drives.delete(key);
    return mounts;
  };
  return {
    name: 'darwin-diskutil',
    watcher: new PollingVolumeWatcher(list, intervalMs),
    classifier: { classify: async (v) => describe(v) },
    actions: {
      block: (v) => run(darwinBlockCommand(drives.get(v.key)?.wholeDisk ?? v.source.replace(/^\/dev\//, ''))),
      makeReadOnly: (v) => run(darwinReadOnlyCommand(v.mountPoint)),
      isReadOnly: (v) => v.options.includes('read-only') && v.options.includes('noexec'),
    },
  };
}
