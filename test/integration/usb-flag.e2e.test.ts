import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { skipReason } from '../helpers/requirements.js';
import { afterAll, describe, expect, it } from 'vitest';
import { verifyDriveFlag, type StationTrust } from '../../src/agent/usb/verify-flag.js';
import { SCAN_FLAG_FILE, type ScanFlag } from '../../src/shared/node/scan-flag.js';
import { keyId } from '../../src/shared/node/crypto.js';
import { selectEngine } from '../../src/station/clamav.js';
import { scanDrive } from '../../src/station/scan.js';
import { loadOrCreateStationKey } from '../../src/station/station-key.js';
import { volumeAt } from '../../src/station/volume.js';
import { makeTestDatabase, markedContent, TEST_MALWARE } from '../helpers/clamav.js';
import { cleanupDrives, isRoot, leftoverLoopDevices, makeExt4Drive, sh, type LoopDrive } from '../helpers/loop-fs.js';
import { runCli, tempDir, waitUntil } from '../helpers/processes.js';

/**
 * The scan station and the verifier against real file systems: ext4 images on loop devices
 * stand in for USB sticks, ClamAV runs for real with a database the test writes itself.
 * FAT: the kernel here has no vfat module and fusefat misreads FAT (8.3 names only, the volume
 * label shown as a file, months shifted), so a FAT image made with mtools is checked through the
 * tree mtools extracts from it, bound to the serial blkid reads from the image.
 */
const tools = ['clamscan', 'mkfs.ext4', 'losetup', 'findmnt', 'blkid', 'mformat', 'mcopy'];
const missing = tools.filter((t) => {
  try {
    sh('sh', ['-c', `command -v ${t}`]);
    return false;
  } catch {
    return true;
  }
});
const skip = skipReason('usb-flag e2e', !isRoot() ? 'not root (loop mounts need root)' : missing.length ? `missing tools: ${missing.join(', ')}` : null);

describe.skipIf(skip !== null)('USB clean-scan flags on real file systems', () => {
  const work = tempDir('vigil-usb-');
  const db = makeTestDatabase(join(work.path, 'db'));
  const keyPath = join(work.path, 'station', 'station-key.pem');
  let trust: StationTrust;
  let clamd: ChildProcess | null = null;

  const scan = (mount: string, ...extra: string[]) =>
    runCli(['scan', mount, '--station-key', keyPath, '--station-id', 'library-station', '--database', db, ...extra], {}, 120_000);
  const verify = async (drive: LoopDrive, level: 'fast' | 'strict' = 'fast', t = trust, now?: Date) => {
    const { fsUuid, usbSerial } = await volumeAt(drive.mount);
    return verifyDriveFlag(drive.mount, { trust: t, volume: { fsUuid, usbSerial }, level, ...(now ? { now } : {}) });
  };
  function fill(drive: LoopDrive): void {
    mkdirSync(join(drive.mount, 'Homework/Science'), { recursive: true });
    writeFileSync(join(drive.mount, 'Homework/Science/volcano report.txt'), 'Magma rises.\n'.repeat(500));
    writeFileSync(join(drive.mount, 'Homework/photo.jpg'), Buffer.alloc(300_000, 0x5a));
    writeFileSync(join(drive.mount, 'notes.md'), '# Notes\n');
  }

  afterAll(async () => {
    if (clamd && clamd.exitCode === null) {
      clamd.kill('SIGTERM');
      await new Promise((r) => clamd!.once('exit', r));
    }
    cleanupDrives();
    work.remove();
    expect(leftoverLoopDevices()).toBe('');
  });

  let driveA: LoopDrive;
  let flagA: ScanFlag;

  it('flags a clean drive, creating a 0600 station key, and the flag verifies fast and strict', async () => {
    driveA = makeExt4Drive();
    fill(driveA);
    const r = await scan(driveA.mount);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Created a new station key/);
    expect(r.stdout).toMatch(/CLEAN: 3 files .* flag written to/);
    expect(r.stderr).toMatch(/scanned 3\/3 files, .* ETA/);
    expect(statSync(keyPath).mode & 0o777).toBe(0o600);
    const key = loadOrCreateStationKey(keyPath);
    expect(r.stdout).toContain(key.publicKey);
    trust = { stations: [{ publicKey: key.publicKey, stationId: 'library-station' }], revokedKeyIds: [] };

    flagA = JSON.parse(readFileSync(join(driveA.mount, SCAN_FLAG_FILE), 'utf8')) as ScanFlag;
    const uuid = sh('blkid', ['-o', 'value', '-s', 'UUID', driveA.device]).trim();
    expect(flagA.payload.volume).toMatchObject({ fsUuid: uuid, fsType: 'ext4', label: 'PUPILDRIVE', usbSerial: null });
    expect(flagA.payload.engine).toMatchObject({ name: 'clamav', databaseDigest: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(flagA.files.map((f) => f.path)).toEqual(['Homework/Science/volcano report.txt', 'Homework/photo.jpg', 'notes.md']);

    expect(await verify(driveA, 'fast')).toMatchObject({ ok: true, reason: 'ok', stats: { files: 3, hashedFiles: 0 } });
    expect(await verify(driveA, 'strict')).toMatchObject({ ok: true, stats: { hashedFiles: 3 } });
  });

  it('rejects the flag for an unknown, revoked or expired station key', async () => {
    const other = { stations: [{ publicKey: 'F8rU6VeR+Q/azxPXE31XDjzt7/tP8ojKx3L0lUwW7Ss=' }], revokedKeyIds: [] };
    expect((await verify(driveA, 'fast', other)).reason).toBe('unknown-station');
    const revoked = { ...trust, revokedKeyIds: [keyId(trust.stations[0]!.publicKey)] };
    expect((await verify(driveA, 'fast', revoked)).reason).toBe('revoked-station');
    expect((await verify(driveA, 'fast', trust, new Date(Date.now() + 8 * 86_400_000))).reason).toBe('expired');
  });

  it('rejects a flag copied onto another drive, even with the same files', async () => {
    const driveB = makeExt4Drive();
    fill(driveB);
    copyFileSync(join(driveA.mount, SCAN_FLAG_FILE), join(driveB.mount, SCAN_FLAG_FILE));
    const v = await verify(driveB);
    expect(v.reason).toBe('wrong-volume');
    expect(v.detail).toContain(flagA.payload.volume.fsUuid!);
  });

  it('detects files added or changed after the scan, fast and strict', async () => {
    const drive = makeExt4Drive();
    fill(drive);
    expect((await scan(drive.mount)).code).toBe(0);
    writeFileSync(join(drive.mount, 'Homework/game.exe'), 'MZ not homework');
    for (const level of ['fast', 'strict'] as const) {
      expect(await verify(drive, level)).toMatchObject({ reason: 'changed-since-scan', changes: { added: ['Homework/game.exe'] } });
    }
    expect((await scan(drive.mount)).code).toBe(0);
    // Same size, mtime put back: only strict re-reads it.
    const file = join(drive.mount, 'notes.md');
    const before = statSync(file);
    writeFileSync(file, '# Notez\n');
    utimesSync(file, before.atime, (Math.trunc(before.mtimeMs) + 0.5) / 1000); // +0.5: float seconds round down
    expect((await verify(drive, 'fast')).ok).toBe(true);
    expect(await verify(drive, 'strict')).toMatchObject({ reason: 'changed-since-scan', changes: { modified: ['notes.md'] } });
    writeFileSync(file, '# Notes, longer now\n');
    expect(await verify(drive, 'fast')).toMatchObject({ reason: 'changed-since-scan', changes: { modified: ['notes.md'] } });
  });

  it('writes no flag for an infected drive, removes an old one and names what it found', async () => {
    const drive = makeExt4Drive();
    fill(drive);
    expect((await scan(drive.mount)).code).toBe(0);
    writeFileSync(join(drive.mount, 'Homework/free-robux.exe'), TEST_MALWARE);
    writeFileSync(join(drive.mount, 'notes.md'), markedContent('# Notes with a pattern'));
    const r = await scan(drive.mount);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/INFECTED Homework\/free-robux\.exe: Vigil\.Test\.Malware/);
    expect(r.stdout).toMatch(/INFECTED notes\.md: Vigil\.Test\.Pattern/);
    expect(r.stderr).toMatch(/vigil: drive not flagged: 2 infected file\(s\) found/);
    expect(existsSync(join(drive.mount, SCAN_FLAG_FILE))).toBe(false);
    expect((await verify(drive)).reason).toBe('not-scanned');
  });

  it('refuses symlinks (no flag), and gives one-line usage errors', async () => {
    const drive = makeExt4Drive();
    fill(drive);
    sh('ln', ['-s', '/etc/passwd', join(drive.mount, 'passwords')]);
    const r = await scan(drive.mount);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/PROBLEM {2}passwords: symbolic link/);
    expect(existsSync(join(drive.mount, SCAN_FLAG_FILE))).toBe(false);

    const usage = [[], ['/nonexistent-dir'], [drive.mount, '--expires-days', '0'], [drive.mount, '--bogus'], [drive.mount, 'extra']];
    for (const args of usage) {
      const u = await runCli(['scan', ...args]);
      expect(u.code, args.join(' ')).toBe(2);
      expect(u.stderr.trim().split('\n')).toHaveLength(1);
    }
    sh('mount', ['-o', 'remount,ro', drive.mount]);
    const readOnly = await scan(drive.mount);
    expect(readOnly.code).toBe(1);
    expect(readOnly.stderr).toMatch(/mounted read-only/);
    const notMount = await scan(work.path);
    expect(notMount.code).toBe(1);
    expect(notMount.stderr).toMatch(/is not a mount point/);
    // Three real ClamAV scans (each loads the signature database) and five CLI runs.
  }, 180_000);

  it('uses clamdscan when a clamd daemon answers', async () => {
    const dir = join(work.path, 'clamd');
    mkdirSync(dir);
    const conf = join(dir, 'clamd.conf');
    writeFileSync(conf, [`LocalSocket ${dir}/clamd.sock`, `DatabaseDirectory ${db}`, 'Foreground yes', 'User root', `PidFile ${dir}/clamd.pid`, ''].join('\n'));
    clamd = spawn('clamd', [`--config-file=${conf}`], { stdio: 'ignore' });
    await waitUntil(
      () => existsSync(join(dir, 'clamd.sock')),
      30_000,
      () => 'clamd socket',
    );
    const drive = makeExt4Drive();
    fill(drive);
    writeFileSync(join(drive.mount, 'virus.bin'), TEST_MALWARE);
    const args = ['scan', drive.mount, '--station-key', keyPath, '--clamd-config', conf];
    const infected = await runCli(args, {}, 120_000);
    expect(infected.stdout).toMatch(/with clamdscan/);
    expect(infected.stdout).toMatch(/INFECTED virus\.bin: Vigil\.Test\.Malware/);
    sh('rm', [join(drive.mount, 'virus.bin')]);
    const clean = await runCli(args, {}, 120_000);
    expect(clean.code, clean.stderr).toBe(0);
    expect((await verify(drive, 'strict')).ok).toBe(true);
  });

  it('flags and verifies a FAT drive made with mtools (checked through the extracted tree)', async () => {
    const image = join(work.path, 'fat.img');
    sh('mformat', ['-C', '-t', '40', '-h', '16', '-s', '63', '-N', '1A2B3C4D', '-v', 'HOMEWORK', '-i', image, '::']);
    const src = join(work.path, 'fat-src');
    mkdirSync(join(src, 'Art'), { recursive: true });
    writeFileSync(join(src, 'Art', 'Long file name drawing.png'), Buffer.alloc(20_000, 1));
    writeFileSync(join(src, 'README.TXT'), 'fat\n');
    sh('mcopy', ['-s', '-m', '-i', image, join(src, 'Art'), join(src, 'README.TXT'), '::/']);
    const blk = sh('blkid', ['-o', 'export', image]);
    const fsUuid = /^UUID=(.+)$/m.exec(blk)![1]!;
    expect(fsUuid).toBe('1A2B-3C4D');
    const tree = join(work.path, 'fat-tree');
    mkdirSync(tree);
    sh('mcopy', ['-s', '-m', '-n', '-i', image, '::/*', tree]);

    const key = loadOrCreateStationKey(keyPath);
    const engine = await selectEngine({ database: db });
    const volume = { fsUuid, fsType: 'vfat', label: 'HOMEWORK', usbSerial: null };
    const outcome = await scanDrive({ root: tree, volume, engine, key, stationId: 'library-station', expiresDays: 7 });
    expect(outcome.ok).toBe(true);
    const observed = { fsUuid, usbSerial: null };
    expect((await verifyDriveFlag(tree, { trust, volume: observed, level: 'strict' })).ok).toBe(true);
    expect((await verifyDriveFlag(tree, { trust, volume: { fsUuid: '0000-0000', usbSerial: null }, level: 'fast' })).reason).toBe('wrong-volume');
    writeFileSync(join(tree, 'README.TXT'), 'changed\n');
    expect((await verifyDriveFlag(tree, { trust, volume: observed, level: 'fast' })).reason).toBe('changed-since-scan');
  });
});
