import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pupilMessage } from '../../src/agent/usb/verdict-text.js';
import { verifyDriveFlag, type ObservedVolume } from '../../src/agent/usb/verify-flag.js';
import { keyId } from '../../src/shared/node/crypto.js';
import {
  merkleRoot,
  parseScanFlag,
  pathProblem,
  SCAN_FLAG_FILE,
  SCAN_FLAG_LIMITS,
  type FlagFileEntry,
  type ScanFlag,
} from '../../src/shared/node/scan-flag.js';
import { flagDirectory, generateEd25519KeyPair, trustOnly } from '../helpers/flags.js';
import { tempDirsPerTest } from '../helpers/processes.js';

const station = generateEd25519KeyPair();
const stranger = generateEd25519KeyPair();
const VOLUME = { fsUuid: '1234-ABCD', fsType: 'vfat', label: 'HOMEWORK', usbSerial: null };
const HERE: ObservedVolume = { fsUuid: '1234-ABCD', usbSerial: null };
const temp = tempDirsPerTest();
const sha = 'a'.repeat(64);

function drive(): string {
  const root = temp();
  mkdirSync(join(root, 'maths/y9'), { recursive: true });
  writeFileSync(join(root, 'maths/y9/fractions.txt'), 'one half\n');
  writeFileSync(join(root, 'essay.docx'), Buffer.alloc(70_000, 7));
  writeFileSync(join(root, 'empty.txt'), '');
  return root;
}

const verify = (root: string, level: 'fast' | 'strict' = 'fast', extra: Partial<Parameters<typeof verifyDriveFlag>[1]> = {}) =>
  verifyDriveFlag(root, { trust: trustOnly(station), volume: HERE, level, ...extra });

/** Rewrites the flag JSON on disk (a pupil with a text editor). */
function editFlag(root: string, edit: (flag: ScanFlag) => unknown): void {
  const path = join(root, SCAN_FLAG_FILE);
  writeFileSync(path, JSON.stringify(edit(JSON.parse(readFileSync(path, 'utf8')) as ScanFlag)));
}

describe('manifest paths and Merkle root', () => {
  it('rejects paths that could leave the drive or confuse another OS', () => {
    for (const bad of [
      '../etc/passwd',
      'a/../../b',
      '/etc/passwd',
      'a\\b',
      'a\u0000b',
      'C:evil',
      'a//b',
      './a',
      'a/',
      'line\nbreak',
      'x'.repeat(1025),
      `${'y'.repeat(256)}/z`,
    ]) {
      expect(pathProblem(bad), bad.slice(0, 20)).not.toBeNull();
    }
    for (const good of ['a', 'maths/y9/fractions.txt', 'Ünïcödé/файл.txt', '.hidden', 'a b/c-d_e.f']) expect(pathProblem(good)).toBeNull();
  });

  it('is deterministic, order-sensitive and covers every field', () => {
    const e = (path: string, size = 1, mtimeMs = 1, h = sha): FlagFileEntry => ({ path, size, mtimeMs, sha256: h });
    const three = [e('a'), e('b'), e('c')];
    expect(merkleRoot(three)).toBe(merkleRoot(three.map((x) => ({ ...x }))));
    expect(merkleRoot(three)).not.toBe(merkleRoot([e('b'), e('a'), e('c')]));
    expect(merkleRoot(three)).not.toBe(merkleRoot([e('a'), e('b')]));
    expect(merkleRoot([e('a', 2)])).not.toBe(merkleRoot([e('a', 1)]));
    expect(merkleRoot([e('a', 1, 2)])).not.toBe(merkleRoot([e('a', 1, 1)]));
    expect(merkleRoot([e('a', 1, 1, 'b'.repeat(64))])).not.toBe(merkleRoot([e('a')]));
    expect(merkleRoot([])).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('verifying a flag on a directory', () => {
  it('accepts an untouched drive at both levels, and hashes only what fast mode must', async () => {
    const root = drive();
    await flagDirectory(root, { key: station, volume: VOLUME });
    const fast = await verify(root);
    expect(fast).toMatchObject({ ok: true, reason: 'ok', stats: { files: 3, hashedFiles: 0 } });
    const strict = await verify(root, 'strict');
    expect(strict).toMatchObject({ ok: true, reason: 'ok', stats: { files: 3, hashedFiles: 3, hashedBytes: 70_009 } });
    expect(pupilMessage(fast, 'HOMEWORK')).toBeNull();
  });

  it('says not-scanned when there is no flag', async () => {
    const v = await verify(drive());
    expect(v.reason).toBe('not-scanned');
    expect(pupilMessage(v, 'HOMEWORK')).toMatchObject({ title: '"HOMEWORK" was not opened', whatToDo: expect.stringContaining('scan station') });
  });

  it('names added, removed and changed files; a touched but identical file passes fast mode', async () => {
    const root = drive();
    await flagDirectory(root, { key: station, volume: VOLUME });
    utimesSync(join(root, 'essay.docx'), new Date(), new Date(Date.now() + 5000));
    expect((await verify(root)).ok).toBe(true);
    writeFileSync(join(root, 'game.exe'), 'MZ');
    writeFileSync(join(root, 'maths/y9/fractions.txt'), 'one third\n');
    truncateSync(join(root, 'empty.txt'), 0);
    const v = await verify(root);
    expect(v).toMatchObject({ ok: false, reason: 'changed-since-scan', changes: { added: ['game.exe'], modified: ['maths/y9/fractions.txt'], removed: [] } });
    expect(pupilMessage(v, 'HOMEWORK')!.why).toContain('game.exe');
  });

  it('catches a same-size rewrite with the old mtime only in strict mode', async () => {
    const root = drive();
    const flag = await flagDirectory(root, { key: station, volume: VOLUME });
    const entry = flag.files.find((f) => f.path === 'essay.docx')!;
    writeFileSync(join(root, 'essay.docx'), Buffer.alloc(70_000, 8));
    // Half a millisecond past, so seconds-as-float rounding cannot land on the millisecond before.
    utimesSync(join(root, 'essay.docx'), new Date(), (entry.mtimeMs + 0.5) / 1000);
    expect((await verify(root, 'fast')).ok).toBe(true);
    expect(await verify(root, 'strict')).toMatchObject({ reason: 'changed-since-scan', changes: { modified: ['essay.docx'] } });
  });

  it('rejects unknown, revoked and forged stations', async () => {
    const root = drive();
    await flagDirectory(root, { key: station, volume: VOLUME });
    expect((await verify(root, 'fast', { trust: trustOnly(stranger) })).reason).toBe('unknown-station');
    expect((await verify(root, 'fast', { trust: { ...trustOnly(station), revokedKeyIds: [keyId(station.publicKey)] } })).reason).toBe('revoked-station');
    editFlag(root, (f) => ({ ...f, payload: { ...f.payload, expiresAt: '2099-01-01T00:00:00.000Z' } }));
    expect((await verify(root)).reason).toBe('bad-signature');
  });

  it('rejects a manifest edited to match changed files', async () => {
    const root = drive();
    await flagDirectory(root, { key: station, volume: VOLUME });
    writeFileSync(join(root, 'essay.docx'), 'replaced');
    editFlag(root, (f) => ({ ...f, files: f.files.map((e) => (e.path === 'essay.docx' ? { ...e, size: 8, mtimeMs: Math.trunc(Date.now()) } : e)) }));
    expect(await verify(root)).toMatchObject({ reason: 'malformed' }); // totalBytes no longer adds up
    editFlag(root, (f) => ({ ...f, files: f.files.map((e) => (e.path === 'essay.docx' ? { ...e, size: 70_000, sha256: sha } : e)) }));
    expect(await verify(root)).toMatchObject({ reason: 'bad-signature', detail: expect.stringContaining('signed summary') });
  });

  it('rejects expired, future-dated and other-volume flags', async () => {
    const root = drive();
    await flagDirectory(root, { key: station, volume: VOLUME, scannedAt: new Date(Date.now() - 9 * 86_400_000) });
    expect((await verify(root)).reason).toBe('expired');
    await flagDirectory(root, { key: station, volume: VOLUME, scannedAt: new Date(Date.now() + 86_400_000) });
    expect((await verify(root)).reason).toBe('not-yet-valid');
    await flagDirectory(root, { key: station, volume: VOLUME });
    expect((await verify(root, 'fast', { volume: { fsUuid: '9999-0000', usbSerial: null } })).reason).toBe('wrong-volume');
    await flagDirectory(root, { key: station, volume: { ...VOLUME, usbSerial: 'SERIAL-A' } });
    expect((await verify(root, 'fast', { volume: { fsUuid: '1234-ABCD', usbSerial: 'SERIAL-B' } })).reason).toBe('wrong-volume');
    expect((await verify(root, 'fast', { volume: { fsUuid: '1234-ABCD', usbSerial: null } })).reason).toBe('ok');
  });
});

describe('hostile flag files', () => {
  async function signedWith(files: FlagFileEntry[]): Promise<{ root: string; flag: ScanFlag }> {
    const root = temp();
    const flag = await flagDirectory(root, { key: station, volume: VOLUME });
    return { root, flag: { ...flag, files } };
  }

  it('rejects traversal, duplicates, disorder and wrong counts with a reason, before touching files', async () => {
    const entry = (path: string): FlagFileEntry => ({ path, size: 0, mtimeMs: 0, sha256: sha });
    const cases: [FlagFileEntry[], RegExp][] = [
      [[entry('../../etc/shadow')], /files\.0: ".." segment/],
      [[entry('/etc/shadow')], /absolute path/],
      [[entry('a\\..\\b')], /backslash/],
      [[entry('a\u0000')], /NUL/],
      [[entry('a'), entry('a')], /duplicate path "a"/],
      [[entry('b'), entry('a')], /not in path order/],
      [[entry(SCAN_FLAG_FILE)], /cannot list itself/],
    ];
    for (const [files, reason] of cases) {
      const { root, flag } = await signedWith(files);
      const payload = { ...flag.payload, manifest: { ...flag.payload.manifest, fileCount: files.length } };
      writeFileSync(join(root, SCAN_FLAG_FILE), JSON.stringify({ ...flag, payload }));
      const v = await verify(root);
      expect(v.reason, String(reason)).toBe('malformed');
      expect(v.detail).toMatch(reason);
      expect(v.stats.files).toBe(0);
    }
  });

  it('refuses huge counts, oversized files, deep nesting, truncation and junk without throwing', async () => {
    const root = temp();
    const path = join(root, SCAN_FLAG_FILE);
    const real = JSON.stringify(await flagDirectory(drive(), { key: station, volume: VOLUME }));
    const huge = `{"format":"vigil-clean-scan","v":1,"files":[${Array(SCAN_FLAG_LIMITS.maxFiles + 1)
      .fill('0')
      .join(',')}]}`;
    const deep = `${'['.repeat(200_000)}${']'.repeat(200_000)}`;
    const deepInside = real.replace('"files":[', `"files":[${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)},`);
    const inputs: [string | Buffer, RegExp][] = [
      [huge, /limit is 100000/],
      [deep, /not a JSON object|not JSON/],
      [deepInside, /files\.0/],
      [real.slice(0, real.length / 2), /not JSON/],
      ['', /not JSON/],
      ['null', /not a JSON object/],
      [Buffer.from([0xff, 0xfe, 0x00, 0x41]), /not JSON/],
      ['{"format":"something-else","v":1}', /format/],
      [real.replace('"v":1', '"v":2'), /v:/],
    ];
    for (const [content, reason] of inputs) {
      writeFileSync(path, content);
      const v = await verify(root);
      expect(v.reason).toBe('malformed');
      expect(v.detail).toMatch(reason);
    }
    // Larger than any flag may be: refused by size, not read into memory.
    truncateSync(path, SCAN_FLAG_LIMITS.maxFlagBytes + 10);
    expect(await verify(root)).toMatchObject({ reason: 'malformed', detail: expect.stringContaining('larger than') });
    // A directory, a FIFO (opening it would block for ever) or a symlink where the flag should be.
    const dirRoot = temp();
    mkdirSync(join(dirRoot, SCAN_FLAG_FILE));
    expect((await verify(dirRoot)).reason).toBe('malformed');
    const fifoRoot = temp();
    execFileSync('mkfifo', [join(fifoRoot, SCAN_FLAG_FILE)]);
    expect(await verify(fifoRoot)).toMatchObject({ reason: 'malformed', detail: 'the flag is not a regular file' });
    const linkRoot = temp();
    symlinkSync(path, join(linkRoot, SCAN_FLAG_FILE));
    expect((await verify(linkRoot)).reason).toBe('malformed');
    expect(parseScanFlag(deep).ok).toBe(false);
  });
});
