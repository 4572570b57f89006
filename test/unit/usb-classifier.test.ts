import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LinuxDriveClassifier, parseUdevData, splitDevNumber } from '../../src/agent/platform/linux/removable.js';
import { matchesRule, pathGlobMatches, type MountedVolume } from '../../src/agent/usb/drives.js';
import { UsbPolicySchema } from '../../src/shared/usb-policy.js';

/** The Linux classifier over recorded sysfs / udev trees (test/fixtures/usb/linux/README.md). */
const FIXTURE = join(import.meta.dirname, '../fixtures/usb/linux');
const probed: string[] = [];
const classifier = new LinuxDriveClassifier({
  sysRoot: join(FIXTURE, 'sys'),
  udevDataDir: join(FIXTURE, 'udev/data'),
  probe: async (device) => {
    probed.push(device);
    return device === '/dev/sdd' ? { UUID: '4E21-0C7A', TYPE: 'vfat', LABEL: 'CAMERA' } : null;
  },
});
const volume = (majMin: string, source: string, mountPoint: string, fsType = 'vfat'): MountedVolume => {
  const [major, minor] = majMin.split(':').map(Number);
  return { key: `1|${majMin}|${mountPoint}|/`, mountPoint, source, fsType, major: major!, minor: minor!, options: ['rw', 'nosuid', 'nodev'] };
};

describe('Linux removable-drive classifier (recorded sysfs/udev)', () => {
  it('a USB stick partition: removable from sysfs and udev, with its serial and file-system id', async () => {
    expect(await classifier.classify(volume('8:17', '/dev/sdb1', '/media/pupil/HOMEWORK'), [])).toEqual({
      classifiedBy: 'os',
      device: '/dev/sdb1',
      fsUuid: '1A2B-3C4D',
      label: 'HOMEWORK',
      fsType: 'vfat',
      usbSerial: '4C530001230615117281',
    });
  });

  it('a USB hard disk that reports removable=0 is still removable: its device path runs through a USB bus', async () => {
    expect(await classifier.classify(volume('8:33', '/dev/sdc1', '/media/pupil/BACKUP', 'ext4'), [])).toMatchObject({
      classifiedBy: 'os',
      fsUuid: '6f1c2d3e-8a9b-4c5d-9e0f-1a2b3c4d5e6f',
      usbSerial: '575836314535384A4B303538',
    });
  });

  it('an internal NVMe disk is not removable, although udev knows its serial', async () => {
    expect(await classifier.classify(volume('259:2', '/dev/nvme0n1p2', '/home', 'ext4'), [])).toBeNull();
  });

  it('an unpartitioned card with no udev record: removable=1 on the disk itself; identity probed from the device', async () => {
    probed.length = 0;
    expect(await classifier.classify(volume('8:48', '/dev/sdd', '/media/pupil/CAMERA'), [])).toEqual({
      classifiedBy: 'os',
      device: '/dev/sdd',
      fsUuid: '4E21-0C7A',
      label: 'CAMERA',
      fsType: 'vfat',
      usbSerial: null, // no udev record: never guessed from sysfs
    });
    expect(probed).toEqual(['/dev/sdd']);
  });

  it('a loop device is removable only when a policy rule says so', async () => {
    const loop = volume('7:3', '/dev/loop3', '/media/pupil/STICK', 'ext4');
    expect(await classifier.classify(loop, [])).toBeNull();
    expect(await classifier.classify(loop, [{ mountPoint: '/srv/*' }])).toBeNull();
    expect(await classifier.classify(loop, [{ mountPoint: '/media/*/*', source: '/dev/loop*' }])).toMatchObject({
      classifiedBy: 'policy',
      device: '/dev/loop3',
      usbSerial: null,
    });
    expect(await classifier.classify(loop, [{ source: '/dev/sd*' }])).toBeNull();
  });

  it('tmpfs, proc and unknown device numbers are not drives; nothing throws', async () => {
    expect(await classifier.classify({ ...volume('0:27', 'tmpfs', '/tmp', 'tmpfs') }, [])).toBeNull();
    expect(await classifier.classify({ ...volume('0:5', 'proc', '/proc', 'proc') }, [])).toBeNull();
    expect(await classifier.classify(volume('8:99', '/dev/sdz9', '/mnt/x'), [])).toBeNull();
    // FUSE without a block device: only a rule can name it.
    expect(await classifier.classify(volume('0:61', 'exfat-fuse', '/media/pupil/X', 'fuse'), [{ mountPoint: '/media/pupil/*' }])).toMatchObject({
      classifiedBy: 'policy',
    });
  });

  it('parses udev records and device numbers as the kernel encodes them', () => {
    const props = parseUdevData('S:disk/by-id/x\nE:ID_BUS=usb\nE:ID_FS_LABEL=A=B\nE:\nG:systemd\n');
    expect([...props]).toEqual([
      ['ID_BUS', 'usb'],
      ['ID_FS_LABEL', 'A=B'],
    ]);
    expect(splitDevNumber(0x811)).toEqual({ major: 8, minor: 17 });
    expect(splitDevNumber(0x10302)).toEqual({ major: 259, minor: 2 });
    expect(splitDevNumber(0x700 + 3)).toEqual({ major: 7, minor: 3 });
    expect(splitDevNumber(0x100700)).toEqual({ major: 7, minor: 256 }); // minors above 255 (loop256)
  });
});

describe('treatAsRemovable rules', () => {
  it('globs: * stays within a segment, ** crosses them, the rest is literal', () => {
    expect(pathGlobMatches('/media/*/*', '/media/pupil/STICK')).toBe(true);
    expect(pathGlobMatches('/media/*', '/media/pupil/STICK')).toBe(false);
    expect(pathGlobMatches('/media/**', '/media/pupil/STICK')).toBe(true);
    expect(pathGlobMatches('/dev/loop*', '/dev/loop12')).toBe(true);
    expect(pathGlobMatches('/dev/loop*', '/dev/loop1/../sda')).toBe(false);
    expect(pathGlobMatches('/a.b/(x)', '/a.b/(x)')).toBe(true);
    expect(pathGlobMatches('/a.b', '/axb')).toBe(false);
    expect(matchesRule({ mountPoint: '/run/media/x/Y', source: '/dev/loop0' }, [{ mountPoint: '/run/media/*/*', source: '/dev/loop*' }])).not.toBeNull();
  });

  it('the policy schema refuses rules that name nothing or relative paths, and fills defaults', () => {
    expect(UsbPolicySchema.safeParse({ treatAsRemovable: [{}] }).success).toBe(false);
    expect(UsbPolicySchema.safeParse({ treatAsRemovable: [{ mountPoint: 'media/*' }] }).success).toBe(false);
    expect(UsbPolicySchema.safeParse({ response: 'eject' }).success).toBe(false);
    expect(UsbPolicySchema.safeParse({ allowSerials: [{ serial: 'bad\nserial' }] }).success).toBe(false);
    expect(UsbPolicySchema.parse({})).toEqual({ verification: 'fast', response: 'block', allowSerials: [], treatAsRemovable: [] });
  });
});

describe('one glob for exec path rules and USB rules', () => {
  it('reads `?` the same in both: exactly one character, never `/`', async () => {
    const { globToRegExp } = await import('../../src/agent/exec/rule-set.js');
    for (const [pattern, path, matches] of [
      ['/media/stick?', '/media/stick1', true],
      ['/media/stick?', '/media/stick', false],
      ['/media/stick?', '/media/stick12', false],
      ['/media/a?c', '/media/a/c', false],
      ['/dev/sd?1', '/dev/sdb1', true],
    ] as const) {
      expect(pathGlobMatches(pattern, path)).toBe(matches);
      expect(globToRegExp(pattern).test(path)).toBe(matches);
    }
  });
});
