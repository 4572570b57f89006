import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { diffMounts, MountWatcher, parseMountInfo, parseMountInfoLine, type MountEntry } from '../../src/agent/platform/linux/mountinfo.js';

// Recorded from this Debian 12 machine and from proc(5), with a USB stick mounted by udisks.
const RECORDED = [
  '22 27 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:13 - proc proc rw',
  '27 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw,errors=remount-ro',
  '36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue',
  '412 27 8:17 / /media/pupil/MY\\040STICK rw,nosuid,nodev,relatime shared:220 - vfat /dev/sdb1 rw,fmask=0022,dmask=0022,codepage=437,iocharset=utf8,shortname=mixed,errors=remount-ro',
  '500 27 0:52 / /media/pupil/fuse rw,nosuid,nodev,relatime - fuse.fusefat /dev/loop3 rw,user_id=0,group_id=0',
].join('\n');

describe('mountinfo', () => {
  it('parses recorded lines, optional fields and octal escapes', () => {
    const entries = parseMountInfo(RECORDED);
    expect(entries).toHaveLength(5);
    const stick = entries[3]!;
    expect(stick).toMatchObject({ mountId: 412, parentId: 27, major: 8, minor: 17, mountPoint: '/media/pupil/MY STICK', fsType: 'vfat', source: '/dev/sdb1' });
    expect(stick.mountOptions).toContain('nosuid');
    expect(entries[2]).toMatchObject({ root: '/mnt1', mountPoint: '/mnt2', fsType: 'ext3' });
    expect(entries[4]).toMatchObject({ fsType: 'fuse.fusefat', source: '/dev/loop3', superOptions: ['rw', 'user_id=0', 'group_id=0'] });
  });

  it('ignores lines without the documented shape', () => {
    expect(parseMountInfoLine('garbage')).toBeNull();
    expect(parseMountInfoLine('1 2 x:y / / rw - ext4 /dev/a rw')).toBeNull();
    expect(parseMountInfoLine('1 2 3:4 / / rw no-separator ext4 /dev/a rw')).toBeNull();
    expect(parseMountInfo('\n\nnot a mount line\n27 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw\n')).toHaveLength(1);
  });

  it('diffs mounts, unmounts and remounts (a reused mount id on another device is a new mount)', () => {
    const before = parseMountInfo(RECORDED);
    const afterLines = RECORDED.replace('412 27 8:17', '412 27 8:33').replace(
      'rw,nosuid,nodev,noexec,relatime shared:13',
      'ro,nosuid,nodev,noexec,relatime shared:13',
    );
    const d = diffMounts(before, parseMountInfo(afterLines));
    expect(d.mounted.map((m) => `${m.major}:${m.minor}`)).toEqual(['8:33']);
    expect(d.unmounted.map((m) => `${m.major}:${m.minor}`)).toEqual(['8:17']);
    expect(d.changed.map((m: MountEntry) => m.mountPoint)).toEqual(['/proc']);
  });

  it('watches a real file and reports mounts present at start as the baseline', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-mountinfo-'));
    const file = join(dir, 'mountinfo');
    writeFileSync(file, RECORDED.split('\n').slice(0, 2).join('\n'));
    const watcher = new MountWatcher({ path: file, intervalMs: 10_000 });
    const seen: string[] = [];
    watcher.on('mounted', (m: MountEntry) => seen.push(`+${m.mountPoint}`));
    watcher.on('unmounted', (m: MountEntry) => seen.push(`-${m.mountPoint}`));
    expect((await watcher.start()).map((m) => m.mountPoint)).toEqual(['/proc', '/']);
    writeFileSync(file, [RECORDED.split('\n')[1], RECORDED.split('\n')[3]].join('\n'));
    await watcher.poll();
    watcher.stop();
    expect(seen).toEqual(['-/proc', '+/media/pupil/MY STICK']);
  });

  it('reads the real /proc/self/mountinfo', async () => {
    const watcher = new MountWatcher();
    const mounts = await watcher.start();
    watcher.stop();
    expect(mounts.some((m) => m.mountPoint === '/')).toBe(true);
  });
});
