import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/shared/canonical-json.js';
import { generateEd25519KeyPair, keyId } from '../../src/shared/node/crypto.js';
import {
  buildManifest,
  comparePaths,
  leafHash,
  merkleRoot,
  parseScanFlag,
  pathProblem,
  SCAN_FLAG_FILE,
  SCAN_FLAG_LIMITS,
  signScanFlag,
  type FlagFileEntry,
  type ScanFlag,
} from '../../src/shared/node/scan-flag.js';
import { verifyPayload } from '../../src/shared/node/signing.js';

/**
 * The clean-scan flag format without a drive: paths, manifest order, the Merkle tree and the
 * parser's refusals, each with its exact reason (issue 19: mutations here went unnoticed).
 */
const station = generateEd25519KeyPair();
const sha = (c: string) => c.repeat(64);
const entry = (path: string, size = 1, mtimeMs = 5, h = sha('a')): FlagFileEntry => ({ path, size, mtimeMs, sha256: h });
const header = {
  station: { id: 'library-1', keyId: keyId(station.publicKey) },
  scannedAt: '2026-03-02T08:00:00.000Z',
  expiresAt: '2026-03-09T08:00:00.000Z',
  volume: { fsUuid: '1234-ABCD', fsType: 'vfat', label: 'HOMEWORK', usbSerial: null },
  engine: { name: 'clamav' as const, version: '1.4.6', databaseVersion: '27500', databaseDigest: sha('d') },
};
const flagOf = (entries: FlagFileEntry[]) => signScanFlag(header, entries, station.privateKeyPem, station.publicKey);
const parse = (value: unknown) => parseScanFlag(JSON.stringify(value));
const detail = (value: unknown) => {
  const r = parse(value);
  expect(r.ok).toBe(false);
  return r.ok ? '' : r.detail;
};
const h = (...parts: (number | Buffer | string)[]) => {
  const hash = createHash('sha256');
  for (const p of parts) hash.update(typeof p === 'number' ? Buffer.of(p) : p);
  return hash.digest();
};

describe('manifest paths', () => {
  it('names what is wrong with a path', () => {
    const cases: [string, string][] = [
      ['', 'empty path'],
      ['x'.repeat(1025), 'path longer than 1024 characters'],
      ['/etc/passwd', 'absolute path'],
      ['a\\b', 'backslash in path'],
      ['C:x', 'colon in path'],
      ['a\u0000b', 'NUL in path'],
      ['a\u001fb', 'control character in path'],
      ['a\u007fb', 'control character in path'],
      ['a\nb', 'control character in path'],
      ['bad\uFFFDname', 'file name is not valid UTF-8'],
      ['a//b', 'empty path segment'],
      ['a/', 'empty path segment'],
      ['./a', '"." segment in path'],
      ['a/../b', '".." segment in path'],
      [`${'y'.repeat(256)}/z`, 'name longer than 255 characters'],
    ];
    for (const [path, problem] of cases) expect(pathProblem(path), JSON.stringify(path.slice(0, 20))).toBe(problem);
    const exactly1024 = ['a', 'b', 'c', 'd']
      .map((c) => c.repeat(200))
      .concat('e'.repeat(220))
      .join('/');
    expect(exactly1024).toHaveLength(1024);
    expect(pathProblem(exactly1024)).toBeNull();
    expect(pathProblem(`${exactly1024}f`)).toBe('path longer than 1024 characters');
    for (const good of [
      'a',
      'x'.repeat(255),
      `${'x'.repeat(255)}/${'y'.repeat(255)}/${'z'.repeat(255)}/${'w'.repeat(256 - 4)}`.slice(0, 1024),
      '..a',
      'a.',
      ' ~!',
      'a\u0020b',
      'é/ü',
    ]) {
      expect(pathProblem(good), good.slice(0, 20)).toBeNull();
    }
  });

  it('orders paths by their UTF-8 bytes, not by UTF-16 code units or locale', () => {
    // U+FF5E sorts before U+1F600 in UTF-8 (EF.. < F0..), after it in UTF-16 (FF5E > D83D).
    expect(comparePaths('\uFF5E', '😀')).toBeLessThan(0);
    expect(comparePaths('😀', '\uFF5E')).toBeGreaterThan(0);
    expect(comparePaths('B', 'a')).toBeLessThan(0);
    expect(comparePaths('a', 'a')).toBe(0);
    const { files, manifest } = buildManifest([entry('😀', 3), entry('b', 4), entry('\uFF5E', 5), entry('B', 6)]);
    expect(files.map((f) => f.path)).toEqual(['B', 'b', '\uFF5E', '😀']);
    expect(manifest).toEqual({ algorithm: 'vigil-merkle-sha256-v1', root: merkleRoot(files), fileCount: 4, totalBytes: 18 });
  });
});

describe('Merkle tree', () => {
  it('hashes leaves with domain byte 0 over path, size, mtime and digest', () => {
    const e = entry('a/b', 7, 9, sha('c'));
    expect(leafHash(e)).toEqual(h(0, canonicalJson(['a/b', 7, 9, sha('c')])));
  });

  it('joins nodes with domain byte 1, carries an odd node up unchanged, and marks the empty tree with 2', () => {
    const [a, b, c] = [entry('a'), entry('b'), entry('c')];
    const [la, lb, lc] = [a, b, c].map(leafHash) as [Buffer, Buffer, Buffer];
    expect(merkleRoot([])).toBe(h(2).toString('hex'));
    expect(merkleRoot([a])).toBe(la.toString('hex'));
    expect(merkleRoot([a, b])).toBe(h(1, la, lb).toString('hex'));
    expect(merkleRoot([a, b, c])).toBe(h(1, h(1, la, lb), lc).toString('hex'));
    const five = ['a', 'b', 'c', 'd', 'e'].map((p) => entry(p));
    const l = five.map(leafHash);
    expect(merkleRoot(five)).toBe(h(1, h(1, h(1, l[0]!, l[1]!), h(1, l[2]!, l[3]!)), l[4]!).toString('hex'));
  });
});

describe('signing and parsing a flag', () => {
  it('signs the ordered manifest into the payload: one way to make a flag', () => {
    const flag = flagOf([entry('b', 2), entry('a', 3)]);
    expect(flag.format).toBe('vigil-clean-scan');
    expect(flag.v).toBe(1);
    expect(flag.files.map((f) => f.path)).toEqual(['a', 'b']);
    expect(flag.payload.manifest).toEqual({ algorithm: 'vigil-merkle-sha256-v1', root: merkleRoot(flag.files), fileCount: 2, totalBytes: 5 });
    expect(verifyPayload('scan-flag', flag.payload, flag.signature, station.publicKey)).toBe(true);
    expect(parse(flag)).toEqual({ ok: true, flag });
    expect(parseScanFlag(Buffer.from(JSON.stringify(flag)))).toEqual({ ok: true, flag });
    expect(parseScanFlag(new TextEncoder().encode(JSON.stringify(flag)))).toEqual({ ok: true, flag });
    expect(SCAN_FLAG_FILE).toBe('.vigil-clean-scan.json');
  });

  it('refuses input over the size limit, counting UTF-8 bytes, and takes it at the limit', () => {
    const text = JSON.stringify(flagOf([entry('é')]));
    const atLimit = text + ' '.repeat(SCAN_FLAG_LIMITS.maxFlagBytes - Buffer.byteLength(text));
    expect(parseScanFlag(atLimit).ok).toBe(true);
    expect(parseScanFlag(`${atLimit} `)).toEqual({
      ok: false,
      detail: `flag file is ${SCAN_FLAG_LIMITS.maxFlagBytes + 1} bytes; the limit is ${SCAN_FLAG_LIMITS.maxFlagBytes}`,
    });
    // One character, two bytes: the string is within the limit in characters, over it in bytes.
    expect(parseScanFlag(`${atLimit.slice(0, -1)}é`)).toMatchObject({
      ok: false,
      detail: expect.stringContaining(`${SCAN_FLAG_LIMITS.maxFlagBytes + 1} bytes`),
    });
    expect(parseScanFlag(Buffer.from(`${atLimit} `))).toMatchObject({ ok: false, detail: expect.stringContaining('the limit is') });
  });

  it('says why text is not a flag object', () => {
    const junk = parseScanFlag(`{"a": ${'x'.repeat(300)}`);
    expect(junk.ok).toBe(false);
    expect(!junk.ok && junk.detail).toMatch(/^not JSON: /);
    expect(!junk.ok && junk.detail.length).toBeLessThanOrEqual('not JSON: '.length + 120);
    for (const v of ['[]', 'null', '3', '"x"']) expect(parseScanFlag(v)).toEqual({ ok: false, detail: 'not a JSON object' });
    expect(parseScanFlag(JSON.stringify({ files: Array(SCAN_FLAG_LIMITS.maxFiles + 1).fill(0) }))).toEqual({
      ok: false,
      detail: 'manifest lists 100001 files; the limit is 100000',
    });
    // At the limit the count is no reason by itself: the schema speaks instead.
    expect(detail({ files: Array(SCAN_FLAG_LIMITS.maxFiles).fill(0) })).not.toMatch(/the limit is/);
  });

  it('refuses manifests that do not add up, with the entry and the reason', () => {
    const good = flagOf([entry('a', 2), entry('b', 3)]);
    const withFiles = (files: FlagFileEntry[], manifest: Partial<ScanFlag['payload']['manifest']> = {}) => ({
      ...good,
      files,
      payload: {
        ...good.payload,
        manifest: { ...good.payload.manifest, fileCount: files.length, totalBytes: files.reduce((n, f) => n + f.size, 0), ...manifest },
      },
    });
    expect(detail(withFiles(good.files, { fileCount: 3 }))).toBe('manifest lists 2 files but the signed count is 3');
    expect(detail(withFiles(good.files, { totalBytes: 6 }))).toBe('files add up to 5 bytes but the signed total is 6');
    expect(detail(withFiles([entry('a'), entry('../x')]))).toBe('files.1: ".." segment in path ("../x")');
    expect(detail(withFiles([entry(`${'a'.repeat(100)}:`)]))).toBe(`files.0: colon in path (${JSON.stringify('a'.repeat(80))})`);
    expect(detail(withFiles([entry(SCAN_FLAG_FILE)]))).toBe('files.0: the flag file cannot list itself');
    expect(detail(withFiles([entry('a'), entry('a')]))).toBe('files.1: duplicate path "a"');
    expect(detail(withFiles([entry('b'), entry('a')]))).toBe('files.1: manifest is not in path order');
    expect(detail(withFiles([entry('a'), entry('b'), entry('a')]))).toBe('files.2: duplicate path "a"');
    const long = 'l'.repeat(100);
    expect(detail(withFiles([entry(long), entry(long)]))).toBe(`files.1: duplicate path ${JSON.stringify('l'.repeat(80))}`);
    expect(parse(withFiles([entry('a'), entry('b'), entry('c')])).ok).toBe(true);
    expect(parse(withFiles([])).ok).toBe(true);
  });

  it('refuses fields outside the schema', () => {
    const good = flagOf([entry('a')]);
    const payload = (p: Record<string, unknown>) => ({ ...good, payload: { ...good.payload, ...p } });
    const cases: unknown[] = [
      { ...good, format: 'other' },
      { ...good, v: 2 },
      { ...good, extra: 1 },
      payload({ volume: { ...header.volume, fsUuid: null, usbSerial: null } }),
      payload({ volume: { ...header.volume, fsUuid: 'has space' } }),
      payload({ volume: { ...header.volume, fsUuid: '' } }),
      payload({ volume: { ...header.volume, fsUuid: 'x'.repeat(65) } }),
      payload({ volume: { ...header.volume, fsType: 'x'.repeat(33) } }),
      payload({ volume: { ...header.volume, label: 'tab\there' } }),
      payload({ volume: { ...header.volume, label: 'x'.repeat(65) } }),
      payload({ volume: { ...header.volume, usbSerial: 'x'.repeat(129) } }),
      payload({ station: { ...header.station, id: 'a/b' } }),
      payload({ station: { ...header.station, id: 'x'.repeat(65) } }),
      payload({ engine: { ...header.engine, name: 'other' } }),
      payload({ engine: { ...header.engine, version: 'x'.repeat(65) } }),
      payload({ engine: { ...header.engine, databaseVersion: 'x'.repeat(65) } }),
      payload({ engine: { ...header.engine, databaseDigest: sha('A') } }),
      payload({ engine: { ...header.engine, databaseDigest: 'a'.repeat(63) } }),
      payload({ engine: { ...header.engine, databaseDigest: `${'a'.repeat(64)}\n` } }),
      payload({ manifest: { ...good.payload.manifest, algorithm: 'sha1' } }),
      payload({ manifest: { ...good.payload.manifest, root: 'x'.repeat(64) } }),
      payload({ manifest: { ...good.payload.manifest, fileCount: SCAN_FLAG_LIMITS.maxFiles + 1 } }),
      payload({ manifest: { ...good.payload.manifest, fileCount: -1 } }),
      payload({ manifest: { ...good.payload.manifest, totalBytes: -1 } }),
      payload({ manifest: { ...good.payload.manifest, totalBytes: 0.5 } }),
      payload({ scannedAt: 'yesterday' }),
      { ...good, files: [{ ...good.files[0], size: -1 }] },
      { ...good, files: [{ ...good.files[0], size: 1.5 }] },
      { ...good, files: [{ ...good.files[0], mtimeMs: -1 }] },
      { ...good, files: [{ ...good.files[0], mtimeMs: 1.5 }] },
      { ...good, files: [{ ...good.files[0], path: '' }] },
      { ...good, files: [{ ...good.files[0], path: 'x'.repeat(1025) }] },
      { ...good, files: [{ ...good.files[0], sha256: 'g'.repeat(64) }] },
      { ...good, files: [{ ...good.files[0], extra: 1 }] },
    ];
    for (const c of cases) expect(parse(c).ok, JSON.stringify(c).slice(0, 200)).toBe(false);
    // A digest with anything before it, and the reasons given.
    expect(detail({ ...good, files: [{ ...good.files[0], sha256: `z${sha('a')}` }] })).toContain('not a SHA-256 hex digest');
    expect(detail(payload({ station: { ...header.station, id: 'a/b' } }))).toContain('unexpected characters');
    expect(detail(payload({ volume: { ...header.volume, label: 'tab\there' } }))).toContain('unexpected characters');
    expect(detail(payload({ volume: { ...header.volume, fsUuid: null, usbSerial: null } }))).toContain(
      'volume has neither a file-system UUID nor a USB serial',
    );
    // The edges that are allowed.
    const allowed: unknown[] = [
      payload({ volume: { ...header.volume, fsUuid: null, usbSerial: 'SER 1' } }),
      payload({ volume: { fsUuid: 'a.b_c:d-E9', fsType: null, label: null, usbSerial: null } }),
      payload({ volume: { ...header.volume, label: '', fsUuid: 'x'.repeat(64) } }),
      payload({ engine: { ...header.engine, databaseVersion: null, databaseDigest: null } }),
      payload({ station: { ...header.station, id: 'x'.repeat(64) } }),
    ];
    // Allowed by the schema; the signature is checked by the verifier, not the parser.
    for (const c of allowed) expect(parse(c).ok, JSON.stringify(c).slice(0, 200)).toBe(true);
    expect(parse(flagOf([entry('empty', 0, 0)])).ok).toBe(true);
  });
});
