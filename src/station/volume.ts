import { realpathSync } from 'node:fs';
import type { VolumeIdentity } from '../shared/node/scan-flag.js';
import { blkid } from '../shared/node/blkid.js';
import { runCommand } from './clamav.js';

/**
 * Identity of the volume mounted at a mount point, from util-linux (findmnt, blkid) and udev.
 * Anything a tool does not report stays null: a guessed id would bind the flag to nothing.
 */
export class VolumeError extends Error {}

export async function volumeAt(mountPoint: string): Promise<VolumeIdentity & { source: string }> {
  const target = realpathSync(mountPoint);
  const fm = await runCommand('findmnt', ['-J', '-o', 'TARGET,SOURCE,FSTYPE,UUID,LABEL', '--mountpoint', target]).catch((e: Error) => {
    throw new VolumeError(`cannot run findmnt (util-linux): ${e.message}`);
  });
  if (fm.code !== 0) throw new VolumeError(`${mountPoint} is not a mount point: give the root of the drive`);
  const fs = (JSON.parse(fm.stdout) as { filesystems?: Record<string, string | null>[] }).filesystems?.[0];
  if (!fs?.source) throw new VolumeError(`findmnt did not report the device mounted at ${mountPoint}`);
  const source = fs.source;
  // findmnt reads udev's database, which containers and minimal systems lack; blkid reads the device.
  const probed = fs.uuid ? null : await blkid(source);
  return {
    source,
    fsUuid: clean(fs.uuid ?? probed?.UUID, /^[A-Za-z0-9-]{1,64}$/),
    fsType: clean(fs.fstype ?? probed?.TYPE, /^[A-Za-z0-9._-]{1,32}$/),
    label: clean(fs.label ?? probed?.LABEL, /^[\x20-\x7e]{1,64}$/),
    usbSerial: await usbSerial(source),
  };
}

/** The serial of the USB device behind a block device, if udev knows it is on a USB bus. */
async function usbSerial(device: string): Promise<string | null> {
  if (!device.startsWith('/dev/')) return null;
  const r = await runCommand('udevadm', ['info', '--query=property', `--name=${device}`]).catch(() => null);
  if (!r || r.code !== 0) return null;
  const props = new Map(r.stdout.split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const));
  if (props.get('ID_BUS') !== 'usb') return null;
  return clean(props.get('ID_SERIAL_SHORT'), /^[\x20-\x7e]{1,128}$/);
}

function clean(value: string | null | undefined, pattern: RegExp): string | null {
  return value && pattern.test(value) ? value : null;
}
