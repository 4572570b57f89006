import type { MountedVolume, RemovableDrive } from '../../usb/drives.js';

/**
 * Windows: which volumes are removable storage, from documented WMI/CIM classes queried through
 * PowerShell as JSON (`ConvertTo-Json`):
 *   Win32_Volume      DeviceID (\\?\Volume{guid}\), DriveLetter, Label, FileSystem,
 *                     SerialNumber (uint32, the FAT/exFAT volume serial), DriveType (2 = removable)
 *   MSFT_Disk         (Get-Disk) Number, BusType (7 = USB, 12 = SD), SerialNumber
 *   MSFT_Partition    (Get-Partition) DiskNumber, AccessPaths (drive letter and volume GUID path)
 * Arrivals come from Win32_VolumeChangeEvent (EventType 2 = arrival, 3 = removal), subscribed
 * with Register-CimIndicationEvent. Written against Microsoft's documentation and tested on
 * recorded outputs only: NOT yet run on a Windows machine.
 */

export const WIN32_SNAPSHOT_SCRIPT = [
  '$ErrorActionPreference = "Stop"',
  '$v = @(Get-CimInstance -ClassName Win32_Volume | Select-Object DeviceID, DriveLetter, Label, FileSystem, SerialNumber, DriveType, Name)',
  '$d = @(Get-Disk | Select-Object Number, BusType, SerialNumber, FriendlyName, IsReadOnly)',
  '$p = @(Get-Partition | Select-Object DiskNumber, DriveLetter, AccessPaths)',
  '@{ volumes = $v; disks = $d; partitions = $p } | ConvertTo-Json -Depth 4 -Compress',
].join('; ');

/** One JSON line per volume change, for the watcher loop. */
export const WIN32_WATCH_SCRIPT = [
  'Register-CimIndicationEvent -ClassName Win32_VolumeChangeEvent -SourceIdentifier VigilVolumes | Out-Null',
  'while ($true) { $e = Wait-Event -SourceIdentifier VigilVolumes; $n = $e.SourceEventArgs.NewEvent;',
  '@{ EventType = [int]$n.EventType; DriveName = [string]$n.DriveName } | ConvertTo-Json -Compress; Remove-Event -EventIdentifier $e.EventIdentifier }',
].join(' ');

interface Win32Volume {
  DeviceID: string;
  DriveLetter: string | null;
  Label: string | null;
  FileSystem: string | null;
  SerialNumber: number | null;
  DriveType: number;
  Name: string | null;
}
interface Win32Disk {
  Number: number;
  BusType: number | string;
  SerialNumber: string | null;
}
interface Win32Partition {
  DiskNumber: number;
  AccessPaths: string[] | null;
}

export interface Win32Snapshot {
  volumes: Win32Volume[];
  disks: Win32Disk[];
  partitions: Win32Partition[];
}

/** ConvertTo-Json writes a one-element array as a bare object; normalise. */
const list = <T>(value: unknown): T[] => (Array.isArray(value) ? (value as T[]) : value && typeof value === 'object' ? [value as T] : []);

export function parseWin32Snapshot(json: string): Win32Snapshot {
  const raw = JSON.parse(json.replace(/^\uFEFF/, '')) as Record<string, unknown>;
  return { volumes: list<Win32Volume>(raw.volumes), disks: list<Win32Disk>(raw.disks), partitions: list<Win32Partition>(raw.partitions) };
}

/** blkid's form of a FAT/exFAT serial: "1A2B-3C4D". */
export function win32VolumeSerial(serial: number | null | undefined): string | null {
  if (typeof serial !== 'number' || !Number.isInteger(serial)) return null;
  const hex = (serial >>> 0).toString(16).toUpperCase().padStart(8, '0');
  return `${hex.slice(0, 4)}-${hex.slice(4)}`;
}

const USB_BUS = new Set<number | string>([7, 'USB', 12, 'SD', 13, 'MMC']);

/**
 * Mounted removable volumes keyed by mount point ("E:\"). A volume is removable when WMI says
 * DriveType 2 or its disk is on a USB/SD bus (USB hard disks report DriveType 3). NTFS serials
 * are 64-bit and Win32_Volume shows only 32 bits, so NTFS volumes get no fsUuid here.
 */
export function win32RemovableVolumes(snapshot: Win32Snapshot): { volume: MountedVolume; drive: RemovableDrive }[] {
  const diskOfPath = new Map<string, number>();
  for (const p of snapshot.partitions) for (const path of p.AccessPaths ?? []) diskOfPath.set(path.toLowerCase(), p.DiskNumber);
  const out: { volume: MountedVolume; drive: RemovableDrive }[] = [];
  for (const v of snapshot.volumes) {
    const mountPoint = v.Name ?? (v.DriveLetter ? `${v.DriveLetter}\\` : null);
    if (!mountPoint || !v.DeviceID) continue;
    const diskNumber = diskOfPath.get(v.DeviceID.toLowerCase()) ?? diskOfPath.get(mountPoint.toLowerCase());
    const disk = snapshot.disks.find((d) => d.Number === diskNumber);
    const onUsb = disk !== undefined && USB_BUS.has(disk.BusType);
    if (v.DriveType !== 2 && !onUsb) continue;
    const fsType = (v.FileSystem ?? 'unknown').toLowerCase();
    out.push({
      volume: { key: v.DeviceID, mountPoint, source: v.DeviceID, fsType, major: 0, minor: 0, options: [] },
      drive: {
        classifiedBy: 'os',
        device: v.DeviceID,
        fsUuid: fsType === 'ntfs' ? null : win32VolumeSerial(v.SerialNumber),
        label: v.Label?.trim() || null,
        fsType,
        usbSerial: onUsb && disk?.SerialNumber?.trim() ? disk.SerialNumber.trim() : null,
      },
    });
  }
  return out;
}

/** A line from WIN32_WATCH_SCRIPT; null for anything else. */
export function parseVolumeChange(line: string): { kind: 'arrival' | 'removal'; drive: string } | null {
  try {
    const e = JSON.parse(line) as { EventType?: unknown; DriveName?: unknown };
    if (typeof e.DriveName !== 'string' || !/^[A-Za-z]:$/.test(e.DriveName)) return null;
    if (e.EventType === 2) return { kind: 'arrival', drive: e.DriveName.toUpperCase() };
    if (e.EventType === 3) return { kind: 'removal', drive: e.DriveName.toUpperCase() };
    return null;
  } catch {
    return null;
  }
}

/**
 * Responses as PowerShell commands. Block: dismount the volume and take its drive letter away
 * (`mountvol X: /p`), so Explorer no longer shows it until it is plugged in again. Read-only:
 * the disk's read-only attribute (`Set-Disk -IsReadOnly`). Windows has no per-volume "noexec":
 * stopping programs on the drive is application control's job there.
 */
export function win32BlockCommand(mountPoint: string): [string, string[]] {
  return ['mountvol', [mountPoint.replace(/\\$/, ''), '/p']];
}
export function win32ReadOnlyCommand(diskNumber: number): [string, string[]] {
  return ['powershell.exe', ['-NoProfile', '-NonInteractive', '-Command', `Set-Disk -Number ${Math.trunc(diskNumber)} -IsReadOnly $true`]];
}
