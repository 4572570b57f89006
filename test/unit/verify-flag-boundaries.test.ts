import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkFlag, verifyDriveFlag, type ObservedVolume, type VerifyOptions } from '../../src/agent/usb/verify-flag.js';
import { keyId } from '../../src/shared/node/crypto.js';
import { SCAN_FLAG_FILE, SCAN_FLAG_LIMITS, signScanFlag, type ScanFlag } from '../../src/shared/node/scan-flag.js';
import { flagDirectory, generateEd25519KeyPair, trustOnly } from '../helpers/flags.js';
import { holdWriteLease } from '../helpers/lease.js';
import { tempDirsPerTest } from '../helpers/processes.js';

/**
 * Every way the drive verifier must say no, checked on `ok` (the one field the mount gate acts
 * on), not only on the reason: each of these was a mutation that turned a refusal into an allow
 * without any test noticing (issue 19, docs/mutation.md).
 */
const station = generateEd25519KeyPair();
const other = generateEd25519KeyPair();
const VOLUME = { fsUuid: '1234-ABCD', fsType: 'vfat', label: 'HOMEWORK', usbSerial: null };
const HERE: ObservedVolume = { fsUuid: '1234-ABCD', usbSerial: null };
const DAY = 86_400_000;
const temp = tempDirsPerTest();

function drive(): string {
  const root = temp();
  mkdirSync(join(root, 'maths'), { recursive: true });
  writeFileSync(join(root, 'maths/fractions.txt'), 'one half\n');
  writeFileSync(join(root, 'essay.txt'), 'the first draft');
  return root;
}

const verify = (root: string, extra: Partial<VerifyOptions> = {}) =>
  verifyDriveFlag(root, { trust: trustOnly(station), volume: HERE, level: 'fast', ...extra });

/**
 * Rewrites a file at the same size with an mtime the flag cannot hold: the kernel stamps files
 * from a coarse clock, so a rewrite within a few milliseconds of the scan can keep its mtime, and
 * fast mode would then rightly skip it (a flaky test on a loaded CI machine).
 */
function rewriteSameSize(root: string, path: string, text: string, flag: ScanFlag): void {
  writeFileSync(join(root, path), text);
  const scanned = flag.files.find((f) => f.path === path)!.mtimeMs;
  utimesSync(join(root, path), new Date(), new Date(scanned + 5000));
}

async function expectRefused(root: string, reason: string, extra: Partial<VerifyOptions> = {}) {
  const v = await verify(root, extra);
  expect(v.ok, `${reason}: ${v.detail}`).toBe(false);
  expect(v.reason).toBe(reason);
  return v;
}

describe('the flag file itself', () => {
  it('refuses a flag that is a directory, a symlink to a good flag, or larger than the limit', async () => {
    const good = drive();
    await flagDirectory(good, { key: station, volume: VOLUME });
    expect((await verify(good)).ok).toBe(true);

    const dir = drive();
    mkdirSync(join(dir, SCAN_FLAG_FILE));
    expect(await expectRefused(dir, 'malformed')).toMatchObject({ detail: 'the flag is not a regular file' });

    const link = drive();
    await flagDirectory(link, { key: station, volume: VOLUME });
    const copy = join(temp(), 'flag.json');
    writeFileSync(copy, readFileSync(join(link, SCAN_FLAG_FILE)));
    rmSync(join(link, SCAN_FLAG_FILE));
    symlinkSync(copy, join(link, SCAN_FLAG_FILE));
    await expectRefused(link, 'malformed');

    // Larger than any flag may be (a sparse file: refused by size, never read).
    const big = drive();
    await flagDirectory(big, { key: station, volume: VOLUME });
    truncateSync(join(big, SCAN_FLAG_FILE), SCAN_FLAG_LIMITS.maxFlagBytes + 1);
    expect(await expectRefused(big, 'malformed')).toMatchObject({ detail: `flag file is larger than ${SCAN_FLAG_LIMITS.maxFlagBytes} bytes` });
  });

  it('refuses a flag it cannot open (another process holds a lease on it)', async () => {
    const root = drive();
    await flagDirectory(root, { key: station, volume: VOLUME });
    const lease = await holdWriteLease(join(root, SCAN_FLAG_FILE));
    try {
      expect(await expectRefused(root, 'unreadable')).toMatchObject({ detail: expect.stringContaining('cannot open the flag file') });
    } finally {
      await lease.release();
    }
  });
});

describe('the drive contents', () => {
  it('refuses when a listed file cannot be read for hashing, at both levels', async () => {
    const root = drive();
    const flag = await flagDirectory(root, { key: station, volume: VOLUME });
    // A new mtime makes fast mode hash the file too.
    const mtime = flag.files.find((f) => f.path === 'essay.txt')!.mtimeMs;
    utimesSync(join(root, 'essay.txt'), new Date(), new Date(mtime + 5000));
    const lease = await holdWriteLease(join(root, 'essay.txt'));
    try {
      for (const level of ['fast', 'strict'] as const) {
        const v = await expectRefused(root, 'unreadable', { level });
        expect(v.detail).toMatch(/^cannot read essay\.txt: /);
        expect(v.flag?.station.id).toBe('test-station');
      }
    } finally {
      await lease.release();
    }
  });

  it('refuses when part of the drive cannot be walked (a name that is not UTF-8, nesting past the limit)', async () => {
    const root = drive();
    await flagDirectory(root, { key: station, volume: VOLUME });
    // Node names the entry with U+FFFD, so it can list it but never open or stat it.
    writeFileSync(Buffer.concat([Buffer.from(`${root}/`), Buffer.from([0x66, 0xff, 0x2e, 0x65, 0x78, 0x65])]), 'MZ');
    expect(await expectRefused(root, 'unreadable')).toMatchObject({ detail: expect.stringMatching(/^cannot read f\uFFFD\.exe: /) });

    const deep = drive();
    await flagDirectory(deep, { key: station, volume: VOLUME });
    mkdirSync(join(deep, ...Array(130).fill('d')), { recursive: true });
    expect(await expectRefused(deep, 'unreadable')).toMatchObject({ detail: expect.stringContaining('directory nesting too deep') });
  });

  it('re-hashes in fast mode a same-size file whose mtime changed, and refuses it when the content differs', async () => {
    const root = drive();
    const flag = await flagDirectory(root, { key: station, volume: VOLUME });
    rewriteSameSize(root, 'essay.txt', 'THE FIRST DRAFT', flag);
    const v = await expectRefused(root, 'changed-since-scan');
    expect(v.changes).toEqual({ added: [], removed: [], modified: ['essay.txt'], counts: { added: 0, removed: 0, modified: 1 } });
    expect(v.stats).toMatchObject({ hashedFiles: 1, hashedBytes: 15 });
  });

  it('refuses a file shortened and regrown to the same size between walk and hash only by content, and lists removed files', async () => {
    const root = drive();
    await flagDirectory(root, { key: station, volume: VOLUME });
    rmSync(join(root, 'maths/fractions.txt'));
    truncateSync(join(root, 'essay.txt'), 3);
    const v = await expectRefused(root, 'changed-since-scan');
    expect(v.changes).toEqual({ added: [], removed: ['maths/fractions.txt'], modified: ['essay.txt'], counts: { added: 0, removed: 1, modified: 1 } });
    expect(v.detail).toBe('drive changed since it was scanned: 1 removed (maths/fractions.txt); 1 modified (essay.txt)');
    expect(v.stats.hashedFiles).toBe(0);
  });

  it('refuses a renamed file (one removed, one added), with every change named and counted', async () => {
    const root = drive();
    await flagDirectory(root, { key: station, volume: VOLUME });
    renameSync(join(root, 'essay.txt'), join(root, 'essay-final.txt'));
    const v = await expectRefused(root, 'changed-since-scan');
    expect(v.changes).toEqual({ added: ['essay-final.txt'], removed: ['essay.txt'], modified: [], counts: { added: 1, removed: 1, modified: 0 } });
    expect(v.detail).toBe('drive changed since it was scanned: 1 added (essay-final.txt); 1 removed (essay.txt)');
  });

  it('lists modified files in path order, whether found by size or by hash', async () => {
    const root = drive();
    const flag = await flagDirectory(root, { key: station, volume: VOLUME });
    rewriteSameSize(root, 'essay.txt', 'THE FIRST DRAFT', flag); // found by hashing, after the loop
    writeFileSync(join(root, 'maths/fractions.txt'), 'two thirds\n'); // new size: found at once
    const v = await expectRefused(root, 'changed-since-scan');
    expect(v.changes!.modified).toEqual(['essay.txt', 'maths/fractions.txt']);
  });

  it('counts every change but names at most fifty of each, and the first three in the detail', async () => {
    const root = drive();
    await flagDirectory(root, { key: station, volume: VOLUME });
    mkdirSync(join(root, 'new'));
    for (let i = 10; i < 62; i++) writeFileSync(join(root, 'new', `${i}.txt`), '');
    const v = await expectRefused(root, 'changed-since-scan');
    expect(v.changes!.counts).toEqual({ added: 52, removed: 0, modified: 0 });
    expect(v.changes!.added).toHaveLength(50);
    expect(v.detail).toMatch(/^drive changed since it was scanned: 52 added \(new\/\d\d\.txt, new\/\d\d\.txt, new\/\d\d\.txt, …\)$/);
    const three = drive();
    await flagDirectory(three, { key: station, volume: VOLUME });
    for (const name of ['a', 'b', 'c']) writeFileSync(join(three, name), '');
    expect((await expectRefused(three, 'changed-since-scan')).detail).toMatch(/^drive changed since it was scanned: 3 added \([abc], [abc], [abc]\)$/);
  });

  it('says what it accepted and leaves no file open', async () => {
    const root = drive();
    const flag = await flagDirectory(root, { key: station, volume: VOLUME });
    const openFiles = () => readdirSync('/proc/self/fd').length;
    const before = openFiles();
    const started = performance.now();
    for (let i = 0; i < 5; i++) await verify(root, { level: 'strict' });
    const v = await verify(root);
    const elapsed = performance.now() - started;
    expect(openFiles()).toBe(before);
    expect(v).toMatchObject({
      ok: true,
      reason: 'ok',
      level: 'fast',
      detail: `scanned clean by station test-station at ${flag.payload.scannedAt}; 2 files match`,
    });
    expect(v.flag).toEqual({ station: flag.payload.station, scannedAt: flag.payload.scannedAt, expiresAt: flag.payload.expiresAt, volume: VOLUME });
    // The verdict's own timing is part of the time this test measured around it.
    expect(v.stats.ms).toBeGreaterThanOrEqual(0);
    expect(v.stats.ms).toBeLessThanOrEqual(Math.ceil(elapsed));
    expect((await verify(drive())).detail).toBe('no clean-scan flag on this drive');
  });

  it('never throws: a broken trust list becomes a refusal', async () => {
    const root = drive();
    await flagDirectory(root, { key: station, volume: VOLUME });
    const v = await expectRefused(root, 'unreadable', { trust: { stations: [], revokedKeyIds: null as unknown as string[] } });
    expect(v.detail).toMatch(/^could not check the drive: .+/);
  });

  it('names a symlink added to the drive', async () => {
    const root = drive();
    await flagDirectory(root, { key: station, volume: VOLUME });
    symlinkSync('essay.txt', join(root, 'link.txt'));
    const v = await expectRefused(root, 'changed-since-scan');
    expect(v.changes).toMatchObject({ added: ['link.txt'], counts: { added: 1 } });
    expect(v.detail).toBe('drive changed since it was scanned: 1 added (link.txt)');
  });
});

describe('signature, station and times', () => {
  /** A flag that names one station's key but is signed by another trusted station's key. */
  function crossSigned(root: string): ScanFlag {
    const scannedAt = new Date();
    const flag = signScanFlag(
      {
        station: { id: 'library-station', keyId: keyId(station.publicKey) },
        scannedAt: scannedAt.toISOString(),
        expiresAt: new Date(scannedAt.getTime() + DAY).toISOString(),
        volume: VOLUME,
        engine: { name: 'clamav', version: '1.4.6', databaseVersion: null, databaseDigest: null },
      },
      [],
      other.privateKeyPem,
      other.publicKey,
    );
    writeFileSync(join(root, SCAN_FLAG_FILE), JSON.stringify(flag));
    return flag;
  }

  it('refuses a flag whose signature key is not the key of the station it names, even when both are trusted', async () => {
    const root = temp();
    crossSigned(root);
    const v = await expectRefused(root, 'bad-signature', { trust: trustOnly(station, other) });
    expect(v.detail).toBe('signature key does not match the station named in the flag');
  });

  it('refuses a flag altered after signing', async () => {
    const root = drive();
    await flagDirectory(root, { key: station, volume: VOLUME });
    const path = join(root, SCAN_FLAG_FILE);
    const flag = JSON.parse(readFileSync(path, 'utf8')) as ScanFlag;
    writeFileSync(path, JSON.stringify({ ...flag, payload: { ...flag.payload, expiresAt: '2099-01-01T00:00:00.000Z' } }));
    expect((await expectRefused(root, 'bad-signature')).detail).toBe('signature does not match the flag contents (altered after signing)');
  });

  it('refuses a revoked key even while it is still listed as trusted, and an untrusted one', async () => {
    const root = drive();
    await flagDirectory(root, { key: station, volume: VOLUME });
    const id = keyId(station.publicKey);
    const revoked = await expectRefused(root, 'revoked-station', {
      trust: { stations: [{ publicKey: station.publicKey }], revokedKeyIds: [keyId(other.publicKey), id] },
    });
    expect(revoked.detail).toBe(`station key ${id} (test-station) has been revoked`);
    const unknown = await expectRefused(root, 'unknown-station', { trust: { stations: [{ publicKey: other.publicKey }], revokedKeyIds: [] } });
    expect(unknown.detail).toBe(`flag signed by station key ${id} (test-station), which this device does not trust`);
    await expectRefused(root, 'unknown-station', { trust: { stations: [], revokedKeyIds: [] } });
  });

  it('refuses a flag at the very millisecond it expires, and takes it one millisecond before', async () => {
    const root = drive();
    const scannedAt = new Date('2026-03-02T08:00:00.000Z');
    await flagDirectory(root, { key: station, volume: VOLUME, scannedAt, expiresDays: 7 });
    const expiry = scannedAt.getTime() + 7 * DAY;
    expect(await verify(root, { now: new Date(expiry - 1) })).toMatchObject({ ok: true, reason: 'ok' });
    expect((await expectRefused(root, 'expired', { now: new Date(expiry) })).detail).toBe('flag expired at 2026-03-09T08:00:00.000Z');
  });

  it('takes a flag up to ten minutes in the future, and refuses it one millisecond later', async () => {
    const root = drive();
    const scannedAt = new Date('2026-03-02T08:00:00.000Z');
    await flagDirectory(root, { key: station, volume: VOLUME, scannedAt });
    const tenMinutes = 10 * 60_000;
    expect(await verify(root, { now: new Date(scannedAt.getTime() - tenMinutes) })).toMatchObject({ ok: true });
    const v = await expectRefused(root, 'not-yet-valid', { now: new Date(scannedAt.getTime() - tenMinutes - 1) });
    expect(v.detail).toBe('flag dated in the future (2026-03-02T08:00:00.000Z)');
  });

  it('checks the volume: file-system id case-insensitively, the USB serial when both know it, and a serial-only flag needs the serial', async () => {
    const root = drive();
    await flagDirectory(root, { key: station, volume: VOLUME });
    expect((await verify(root, { volume: { fsUuid: '1234-abcd', usbSerial: 'ANY' } })).ok).toBe(true);
    const v = await expectRefused(root, 'wrong-volume', { volume: { fsUuid: null, usbSerial: null } });
    expect(v.detail).toBe('flag belongs to volume 1234-ABCD, this drive is without a file-system id');
    expect((await expectRefused(root, 'wrong-volume', { volume: { fsUuid: '1234-ABCE', usbSerial: null } })).detail).toBe(
      'flag belongs to volume 1234-ABCD, this drive is 1234-ABCE',
    );

    const serialOnly = drive();
    await flagDirectory(serialOnly, { key: station, volume: { ...VOLUME, fsUuid: null, usbSerial: 'SER-1' } });
    expect((await verify(serialOnly, { volume: { fsUuid: 'FFFF-0000', usbSerial: 'SER-1' } })).ok).toBe(true);
    expect((await expectRefused(serialOnly, 'wrong-volume', { volume: { fsUuid: 'FFFF-0000', usbSerial: null } })).detail).toBe(
      'flag is bound to a USB serial this device cannot read',
    );
    expect((await expectRefused(serialOnly, 'wrong-volume', { volume: { fsUuid: 'FFFF-0000', usbSerial: 'SER-2' } })).detail).toBe(
      'flag belongs to USB device SER-1, this drive is SER-2',
    );
  });

  it('checkFlag alone gives the same answers without touching the drive', async () => {
    const root = temp();
    const flag = crossSigned(root);
    const raw = Buffer.from(JSON.stringify(flag));
    expect(checkFlag(raw, { trust: trustOnly(station, other), volume: HERE })).toMatchObject({
      ok: false,
      verdict: { ok: false, reason: 'bad-signature', flag: { station: { id: 'library-station' } } },
    });
    expect(checkFlag(Buffer.from('{}'), { trust: trustOnly(station), volume: HERE })).toMatchObject({ ok: false, verdict: { ok: false, reason: 'malformed' } });
    expect(checkFlag(Buffer.from('{}'), { trust: trustOnly(station), volume: HERE })).not.toHaveProperty('verdict.flag');
  });
});
