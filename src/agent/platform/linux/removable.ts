import { readFile, realpath, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { matchesRule, type DriveClassifier, type MountedVolume, type RemovableDrive, type TreatAsRemovable } from '../../usb/drives.js';

/**
 * Tells removable storage from internal disks on Linux, the way udisks does: the kernel's
 * sysfs view of the block device (the disk's `removable` flag, whether its device path runs
 * through a USB bus) and udev's database for that device (ID_BUS, ID_SERIAL_SHORT, ID_FS_*).
 * Roots are parameters so recorded trees can stand in for /sys and /run/udev/data in tests.
 */
export interface LinuxClassifierOptions {
  sysRoot?: string;
  udevDataDir?: string;
  /** Reads the file system's identity from the device when udev has no record (containers, no udevd). */
  probe?: (device: string) => Promise<Record<string, string> | null>;
}

/** udev's database file: `E:KEY=VALUE` lines are the device's properties. */
export function parseUdevData(text: string): Map<string, string> {
  const props = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('E:')) continue;
    const eq = line.indexOf('=');
    if (eq > 2) props.set(line.slice(2, eq), line.slice(eq + 1));
  }
  return props;
}

/** major/minor of a dev_t as Linux encodes it (glibc's gnu_dev_major / gnu_dev_minor). */
export function splitDevNumber(rdev: number): { major: number; minor: number } {
  const big = BigInt(rdev);
  const major = Number(((big >> 8n) & 0xfffn) | ((big >> 32n) & ~0xfffn));
  const minor = Number((big & 0xffn) | ((big >> 12n) & ~0xffn));
  return { major, minor };
}

const printable = (value: string | undefined, max: number) => (value && value.length <= max && /^[\x20-\x7e]+$/.test(value) ? value : null);
const readText = (path: string) =>
  readFile(path, 'utf8').then(
    (t) => t.trim(),
    () => null,
  );

export class LinuxDriveClassifier implements DriveClassifier {
  private readonly sysRoot: string;
  private readonly udevDataDir: string;
  private readonly probe: LinuxClassifierOptions['probe'];

  constructor(options: LinuxClassifierOptions = {}) {
    this.sysRoot = options.sysRoot ?? '/sys';
    this.udevDataDir = options.udevDataDir ?? '/run/udev/data';
    this.probe = options.probe;
  }

  async classify(volume: MountedVolume, rules: readonly TreatAsRemovable[]): Promise<RemovableDrive | null> {
    try {
      const dev = await this.blockDevice(volume);
      const fromOs = dev ? await this.osView(dev.major, dev.minor) : null;
      const classifiedBy = fromOs?.removable ? 'os' : matchesRule(volume, rules) ? 'policy' : null;
      if (!classifiedBy) return null;
      const device = volume.source.startsWith('/dev/') ? volume.source : fromOs?.devName ? `/dev/${fromOs.devName}` : volume.source;
      const udev = fromOs?.udev ?? new Map<string, string>();
      let fsUuid = printable(udev.get('ID_FS_UUID'), 64);
      let label = printable(udev.get('ID_FS_LABEL'), 64);
      let fsType = printable(udev.get('ID_FS_TYPE'), 32);
      if (!fsUuid && this.probe && device.startsWith('/dev/')) {
        const probed = await this.probe(device);
        fsUuid = printable(probed?.UUID, 64);
        label ??= printable(probed?.LABEL, 64);
        fsType ??= printable(probed?.TYPE, 32);
      }
      return {
        classifiedBy,
        device,
        fsUuid: fsUuid && /^[A-Za-z0-9-]+$/.test(fsUuid) ? fsUuid : null,
        label,
        fsType: fsType ?? volume.fsType,
        usbSerial: udev.get('ID_BUS') === 'usb' ? printable(udev.get('ID_SERIAL_SHORT'), 128) : null,
      };
    } catch {
      return matchesRule(volume, rules)
        ? { classifiedBy: 'policy', device: volume.source, fsUuid: null, label: null, fsType: volume.fsType, usbSerial: null }
        : null;
    }
  }

  /** The block device behind the mount: its own number, or (FUSE) the device named as source. */
  private async blockDevice(volume: MountedVolume): Promise<{ major: number; minor: number } | null> {
    if (volume.major !== 0) return { major: volume.major, minor: volume.minor };
    if (!volume.source.startsWith('/dev/')) return null;
    const st = await stat(volume.source).catch(() => null);
    return st?.isBlockDevice() ? splitDevNumber(st.rdev) : null;
  }

  /**
   * Removable when the whole disk has removable=1 (card readers, most sticks), when its sysfs
   * path runs through a USB bus (USB disks that report removable=0), or when udev says ID_BUS=usb.
   */
  private async osView(major: number, minor: number): Promise<{ removable: boolean; devName: string | null; udev: Map<string, string> } | null> {
    const link = join(this.sysRoot, 'dev/block', `${major}:${minor}`);
    const path = await realpath(link).catch(() => null);
    const udevText = await readText(join(this.udevDataDir, `b${major}:${minor}`));
    const udev = udevText ? parseUdevData(udevText) : new Map<string, string>();
    if (!path) return { removable: udev.get('ID_BUS') === 'usb', devName: null, udev };
    const isPartition = (await readText(join(path, 'partition'))) !== null;
    const disk = isPartition ? dirname(path) : path;
    const removableFlag = (await readText(join(disk, 'removable'))) === '1';
    const onUsb = /\/usb\d+\//.test(path);
    return { removable: removableFlag || onUsb || udev.get('ID_BUS') === 'usb', devName: basename(path), udev };
  }
}
