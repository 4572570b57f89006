import { spawnSync } from 'node:child_process';
import { openSync, readFileSync, readSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { darwinDriveFromInfo, darwinUsbSerial, parseDarwinMount, parsePlist } from '../../src/agent/platform/darwin/usb-volumes.js';
import { parseVolumeChange, parseWin32Snapshot, win32RemovableVolumes, win32VolumeSerial } from '../../src/agent/platform/win32/usb-volumes.js';
import { volumeIdFromBootSector } from '../../src/agent/usb/volume-id.js';
import { darwinUsbPlatform } from '../../src/agent/platform/darwin/usb.js';
import { win32UsbPlatform } from '../../src/agent/platform/win32/usb.js';
import { sh } from '../helpers/loop-fs.js';
import { tempDirsPerTest } from '../helpers/processes.js';

/**
 * Windows and macOS drive detection on RECORDED outputs (test/fixtures/usb/{win32,darwin}),
 * written from Microsoft's and Apple's documented formats. Not verified on real machines.
 */
const FIXTURES = join(import.meta.dirname, '../fixtures/usb');
const fixture = (path: string) => readFileSync(join(FIXTURES, path), 'utf8');

describe('Windows volumes (WMI/CIM JSON via PowerShell)', () => {
  it('keeps USB and removable volumes, with the FAT/exFAT serial as blkid prints it and the USB serial', () => {
    const drives = win32RemovableVolumes(parseWin32Snapshot(fixture('win32/snapshot.json')));
    expect(drives.map((d) => [d.volume.mountPoint, d.drive])).toEqual([
      [
        'E:\\',
        {
          classifiedBy: 'os',
          device: '\\\\?\\Volume{8a61b2c4-5d3e-11ef-9c2b-806e6f6e6963}\\',
          fsUuid: '1A2B-3C4D',
          label: 'HOMEWORK',
          fsType: 'fat32',
          usbSerial: '4C530001230615117281',
        },
      ],
      // A USB disk reporting DriveType 3 (fixed) is still on the USB bus.
      ['F:\\', expect.objectContaining({ fsUuid: 'DEAD-BEEF', fsType: 'exfat', usbSerial: '575836314535384A4B303538' })],
      // NTFS: Win32_Volume shows only 32 of the 64 serial bits; a blank serial is no serial.
      ['G:\\', expect.objectContaining({ fsUuid: null, fsType: 'ntfs', usbSerial: null, label: 'STAFF' })],
    ]);
  });

  it('reads ConvertTo-Json single objects (not arrays) and a UTF-8 BOM', () => {
    const drives = win32RemovableVolumes(parseWin32Snapshot(`\uFEFF${fixture('win32/single-volume.json')}`));
    expect(drives).toHaveLength(1);
    expect(drives[0]!.drive).toMatchObject({ fsUuid: '1A2B-3C4D', fsType: 'exfat', usbSerial: '4C530001230615117281' });
  });

  it('volume change events: arrivals and removals only, drive letters only', () => {
    expect(fixture('win32/volume-events.jsonl').split('\n').map(parseVolumeChange)).toEqual([
      { kind: 'arrival', drive: 'E:' },
      { kind: 'removal', drive: 'E:' },
      null,
      null,
      null,
      null,
    ]);
    expect(win32VolumeSerial(0)).toBe('0000-0000');
    expect(win32VolumeSerial(-1)).toBe('FFFF-FFFF');
    expect(win32VolumeSerial(null)).toBeNull();
  });
});

describe('macOS volumes (diskutil plist, mount, system_profiler)', () => {
  it('a USB stick from diskutil info -plist; the internal APFS volume is not removable', () => {
    const usb = darwinDriveFromInfo(parsePlist(fixture('darwin/diskutil-info-usb.plist')));
    expect(usb).toEqual({
      classifiedBy: 'os',
      device: '/dev/disk4s1',
      fsUuid: null,
      label: 'HOMEWORK & ART',
      fsType: 'msdos',
      usbSerial: null,
      mountPoint: '/Volumes/HOMEWORK',
      wholeDisk: 'disk4',
    });
    const internal = parsePlist(fixture('darwin/diskutil-info-internal.plist')) as Record<string, unknown>;
    expect(internal).toMatchObject({ ContainerFree: 312456.5, Icon: 'AAAA', Snapshots: [{ Name: 'com.apple.os.update-1' }], EmptyThings: [] });
    expect(darwinDriveFromInfo(internal as never)).toBeNull();
    expect(() => parsePlist('<plist><dict><key>a</key>')).toThrow(/plist/);
  });

  it('reads property lists with the strict XML reader: dates and data kept, DTD subsets and entities refused', () => {
    const doctype = '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">';
    const plist = (body: string, head = doctype) => `<?xml version="1.0" encoding="UTF-8"?>\n${head}\n<plist version="1.0">${body}</plist>`;
    // The values `plutil -convert json` cannot carry are read as text.
    expect(
      parsePlist(plist('<dict><key>At</key><date>2026-12-04T07:00:00Z</date><key>Blob</key><data>AAE=</data><key>A &amp; B</key><string>x</string></dict>')),
    ).toEqual({
      At: '2026-12-04T07:00:00Z',
      Blob: 'AAE=',
      'A & B': 'x',
    });
    expect(() => parsePlist(plist('<dict/>', '<!DOCTYPE plist [<!ENTITY x "boom">]>'))).toThrow(/DOCTYPE is not allowed/);
    expect(() => parsePlist(plist('<dict/>', '<!DOCTYPE html PUBLIC "a" "b">'))).toThrow(/DOCTYPE is not allowed/);
    expect(() => parsePlist(plist('<string>&x;</string>'))).toThrow(/plist/);
    expect(() => parsePlist(plist('<dict><key>a</key></dict>'))).toThrow(/expected <key> then a value/);
  });

  it('the mount table, names with spaces and options included', () => {
    const mounts = parseDarwinMount(fixture('darwin/mount.txt'));
    expect(mounts.map((m) => [m.source, m.mountPoint, m.fsType])).toContainEqual(['/dev/disk4s1', '/Volumes/HOMEWORK & ART', 'msdos']);
    expect(mounts.find((m) => m.source === '/dev/disk5s1')!.options).toEqual(expect.arrayContaining(['noexec', 'read-only']));
    expect(mounts).toHaveLength(6);
  });

  it('the USB serial of the disk from system_profiler', () => {
    const json = fixture('darwin/system-profiler-usb.json');
    expect(darwinUsbSerial(json, 'disk4')).toBe('4C530001230615117281');
    expect(darwinUsbSerial(json, 'disk9')).toBeNull();
    expect(darwinUsbSerial('not json', 'disk4')).toBeNull();
  });
});

describe('FAT/exFAT volume id from the boot sector (real images made here)', () => {
  const dir = tempDirsPerTest();
  const firstSector = (image: string) => {
    const fd = openSync(image, 'r');
    const buf = Buffer.alloc(512);
    readSync(fd, buf, 0, 512, 0);
    closeSync(fd);
    return buf;
  };
  const blkidUuid = (image: string) => sh('blkid', ['-o', 'value', '-s', 'UUID', image]).trim();

  it('matches blkid for FAT16, FAT32 and exFAT', () => {
    const fat16 = join(dir(), 'fat16.img');
    sh('mformat', ['-C', '-t', '40', '-h', '16', '-s', '63', '-N', '1A2B3C4D', '-i', fat16, '::']);
    expect(volumeIdFromBootSector(firstSector(fat16))).toEqual({ fsType: 'vfat', id: blkidUuid(fat16) });
    expect(blkidUuid(fat16)).toBe('1A2B-3C4D');

    const fat32 = join(dir(), 'fat32.img');
    sh('truncate', ['-s', '64M', fat32]);
    sh('mformat', ['-F', '-N', 'DEADBEEF', '-i', fat32, '::']);
    expect(volumeIdFromBootSector(firstSector(fat32))).toEqual({ fsType: 'vfat', id: 'DEAD-BEEF' });
    expect(blkidUuid(fat32)).toBe('DEAD-BEEF');

    const exfat = join(dir(), 'exfat.img');
    sh('truncate', ['-s', '16M', exfat]);
    expect(spawnSync('mkfs.exfat', [exfat]).status).toBe(0);
    expect(volumeIdFromBootSector(firstSector(exfat))).toEqual({ fsType: 'exfat', id: blkidUuid(exfat) });
  });

  it('anything else is no id', () => {
    expect(volumeIdFromBootSector(Buffer.alloc(512))).toBeNull();
    expect(volumeIdFromBootSector(Buffer.alloc(10))).toBeNull();
  });
});

describe('Windows and macOS backends behind the UsbPlatform interface (recorded outputs)', () => {
  /** Answers commands from recorded outputs and remembers what was run. */
  function recordedRunner(answers: Record<string, string>) {
    const ran: string[] = [];
    const runner = {
      ran,
      run: async (command: string, args: readonly string[]) => {
        const line = [command, ...args].join(' ');
        ran.push(line);
        const key = Object.keys(answers).find((k) => line.startsWith(k));
        return key ? { code: 0, stdout: answers[key]!, stderr: '' } : { code: 1, stdout: '', stderr: `no recording for ${line}` };
      },
      start: () => {
        throw new Error('not used');
      },
      has: () => true,
    };
    return runner;
  }

  it('Windows: lists removable volumes, classifies from the snapshot, blocks with mountvol and sets the disk read-only', async () => {
    const runner = recordedRunner({
      'powershell.exe -NoProfile -NonInteractive -Command $ErrorActionPreference': fixture('win32/snapshot.json'),
      mountvol: '',
      'powershell.exe -NoProfile -NonInteractive -Command Set-Disk': '',
    });
    let arrival: ((line: string) => void) | null = null;
    let subscription = '';
    const platform = win32UsbPlatform(
      runner,
      60_000,
      (command, args, onLine) => ((subscription = `${command} ${args.join(' ')}`), (arrival = onLine), () => (arrival = null)),
    );
    const volumes = await platform.watcher.start();
    expect(subscription).toContain('Register-CimIndicationEvent -ClassName Win32_VolumeChangeEvent');
    // An arrival event re-reads the snapshot at once (no waiting for the timer).
    const before = runner.ran.length;
    const mounted: string[] = [];
    platform.watcher.on('mounted', (v: { mountPoint: string }) => mounted.push(v.mountPoint));
    arrival!('WARNING: noise');
    arrival!('{"EventType":2,"DriveName":"E:"}');
    await new Promise((r) => setTimeout(r, 20));
    expect(runner.ran.length).toBe(before + 1);
    expect(mounted).toEqual([]); // same snapshot, nothing new
    platform.watcher.stop();
    expect(arrival).toBeNull();
    expect(volumes.map((v) => v.mountPoint)).toEqual(['E:\\', 'F:\\', 'G:\\']);
    expect(await platform.classifier.classify(volumes[0]!, [])).toMatchObject({ usbSerial: '4C530001230615117281', fsUuid: '1A2B-3C4D' });
    expect(await platform.actions.block(volumes[0]!)).toMatchObject({ ok: true });
    expect(await platform.actions.makeReadOnly(volumes[1]!)).toMatchObject({ ok: true });
    expect(runner.ran.slice(-2)).toEqual(['mountvol E: /p', 'powershell.exe -NoProfile -NonInteractive -Command Set-Disk -Number 2 -IsReadOnly $true']);
  });

  it('macOS: lists /dev/disk mounts, describes a USB stick (serial, boot-sector id), ejects its whole disk', async () => {
    const runner = recordedRunner({
      mount: fixture('darwin/mount.txt'),
      'diskutil info -plist /Volumes/HOMEWORK & ART': fixture('darwin/diskutil-info-usb.plist'),
      'diskutil info -plist /': fixture('darwin/diskutil-info-internal.plist'),
      'system_profiler SPUSBDataType -json': fixture('darwin/system-profiler-usb.json'),
      'diskutil eject': '',
    });
    const exfatSector = Buffer.alloc(512);
    exfatSector.write('EXFAT   ', 3, 'latin1');
    exfatSector.writeUInt32LE(0x1a2b3c4d, 100);
    const platform = darwinUsbPlatform(runner, 1000, async (device) => (device === '/dev/disk4s1' ? exfatSector : null));
    const volumes = await platform.watcher.start();
    platform.watcher.stop();
    const stick = volumes.find((v) => v.mountPoint === '/Volumes/HOMEWORK & ART')!;
    expect(await platform.classifier.classify(stick, [])).toMatchObject({
      device: '/dev/disk4s1',
      fsUuid: '1A2B-3C4D',
      usbSerial: '4C530001230615117281',
      label: 'HOMEWORK & ART',
    });
    expect(
      await platform.classifier.classify(
        volumes.find((v) => v.mountPoint === '/')!,
        [],
      ),
    ).toBeNull();
    expect(await platform.actions.block(stick)).toMatchObject({ ok: true });
    expect(runner.ran.at(-1)).toBe('diskutil eject disk4');
    expect(platform.actions.isReadOnly(volumes.find((v) => v.mountPoint === '/Volumes/My Passport')!)).toBe(true);
  });
});
