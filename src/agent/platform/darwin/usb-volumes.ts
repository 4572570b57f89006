import { parseXml, type XmlElement } from '../../../shared/node/appcontrol/xml.js';
import type { MountedVolume, RemovableDrive } from '../../usb/drives.js';

/**
 * macOS: removable volumes from documented command output, the same facts DiskArbitration
 * gives (DADiskCopyDescription): `diskutil info -plist <mount point>` (DeviceIdentifier,
 * DeviceNode, MountPoint, VolumeName, FilesystemType, BusProtocol, Internal, Removable*,
 * Ejectable), `mount` for the mount table, `system_profiler SPUSBDataType -json` for the USB
 * serial of the disk (`serial_num` next to `Media[].bsd_name`). The FAT/exFAT volume serial is
 * read from the boot sector (volume-id.ts) because diskutil's VolumeUUID for FAT is derived,
 * not the serial the station records. Written from Apple's documentation and man pages and
 * tested on recorded outputs only: NOT yet run on a Mac.
 */

export type PlistValue = string | number | boolean | PlistValue[] | { [key: string]: PlistValue };

/**
 * An XML property list as plain values (dict, array, string, integer, real, true, false, date,
 * data), read with the one strict XML reader Vigil has. `plutil -convert json` would be the other
 * way, but it refuses any property list holding a <date> or <data> value, so one unexpected key in
 * diskutil's output would blind the USB gate.
 */
export function parsePlist(xml: string): PlistValue {
  let root: XmlElement;
  try {
    root = parseXml(xml, { externalDoctype: 'plist' });
  } catch (error) {
    throw new Error(`plist: ${(error as Error).message}`, { cause: error });
  }
  if (root.name !== 'plist' || root.children.length !== 1) throw new Error('plist: expected one value inside <plist>');
  return plistValue(root.children[0]!);
}

function plistValue(element: XmlElement): PlistValue {
  switch (element.name) {
    case 'true':
      return true;
    case 'false':
      return false;
    case 'string':
    case 'date':
    case 'data':
      return element.text.trim();
    case 'integer':
    case 'real':
      return Number(element.text.trim());
    case 'array':
      return element.children.map(plistValue);
    case 'dict': {
      const dict: { [key: string]: PlistValue } = {};
      const children = element.children;
      for (let i = 0; i < children.length; i += 2) {
        const key = children[i]!;
        const value = children[i + 1];
        if (key.name !== 'key' || !value) throw new Error(`plist: line ${key.line}: expected <key> then a value`);
        dict[key.text] = plistValue(value);
      }
      return dict;
    }
    default:
      throw new Error(`plist: line ${element.line}: unexpected <${element.name}>`);
  }
}

const str = (v: PlistValue | undefined) => (typeof v === 'string' && v.length ? v : null);

/** A diskutil info dictionary as a removable drive; null when it is internal, fixed storage. */
export function darwinDriveFromInfo(info: PlistValue): (RemovableDrive & { mountPoint: string; wholeDisk: string }) | null {
  if (typeof info !== 'object' || Array.isArray(info)) return null;
  const bus = str(info.BusProtocol);
  const removable = info.Removable === true || info.RemovableMedia === true || info.Ejectable === true || bus === 'USB' || bus === 'Secure Digital';
  const mountPoint = str(info.MountPoint);
  const device = str(info.DeviceNode);
  if (!removable || !mountPoint || !device) return null;
  return {
    classifiedBy: 'os',
    device,
    fsUuid: null, // filled from the boot sector by the caller
    label: str(info.VolumeName),
    fsType: str(info.FilesystemType) ?? 'unknown',
    usbSerial: null, // from system_profiler
    mountPoint,
    wholeDisk: str(info.ParentWholeDisk) ?? device.replace(/^\/dev\//, '').replace(/s\d+$/, ''),
  };
}

/** `mount` lines: "/dev/disk4s1 on /Volumes/HOMEWORK (msdos, local, nodev, nosuid, noowners)". */
export function parseDarwinMount(text: string): MountedVolume[] {
  const out: MountedVolume[] = [];
  for (const line of text.split('\n')) {
    const m = /^(.+?) on (.+) \(([^()]*)\)$/.exec(line.trim());
    if (!m) continue;
    const [type, ...options] = m[3]!.split(',').map((s) => s.trim());
    out.push({ key: `${m[1]}|${m[2]}`, mountPoint: m[2]!, source: m[1]!, fsType: type!, major: 0, minor: 0, options });
  }
  return out;
}

/** The USB serial of a whole disk ("disk4") from `system_profiler SPUSBDataType -json`. */
export function darwinUsbSerial(json: string, wholeDisk: string): string | null {
  const walk = (items: unknown): string | null => {
    if (!Array.isArray(items)) return null;
    for (const item of items as Record<string, unknown>[]) {
      const media = Array.isArray(item.Media) ? (item.Media as Record<string, unknown>[]) : [];
      if (media.some((m) => m.bsd_name === wholeDisk) && typeof item.serial_num === 'string' && item.serial_num.trim()) return item.serial_num.trim();
      const inner = walk(item._items);
      if (inner) return inner;
    }
    return null;
  };
  try {
    return walk((JSON.parse(json) as { SPUSBDataType?: unknown }).SPUSBDataType);
  } catch {
    return null;
  }
}

/** Block: eject the whole disk (unmounts every volume, spins it down). Read-only: remount with rdonly. */
export function darwinBlockCommand(wholeDisk: string): [string, string[]] {
  return ['diskutil', ['eject', wholeDisk]];
}
export function darwinReadOnlyCommand(mountPoint: string): [string, string[]] {
  return ['mount', ['-u', '-o', 'rdonly,noexec,nosuid,nodev', mountPoint]];
}
