import { closeSync, fsyncSync, mkdtempSync, openSync, renameSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHashQueue, errorText, walkTree, type TreeFile, type TreeWalk } from '../shared/node/file-tree.js';
import {
  comparePaths,
  parseScanFlag,
  pathProblem,
  SCAN_FLAG_FILE,
  SCAN_FLAG_LIMITS,
  signScanFlag,
  type FlagFileEntry,
  type ScanFlag,
  type VolumeIdentity,
} from '../shared/node/scan-flag.js';
import { CLAMAV_MAX_FILE_BYTES, scanFiles, type ClamavEngine, type FileScanResult } from './clamav.js';
import type { StationKey } from './station-key.js';

/**
 * The scan station's work on one drive: list every file, scan them with ClamAV and hash each one
 * as ClamAV finishes it, make sure nothing changed meanwhile, then sign and write the flag. Any doubt means no
 * flag: a drive is only ever flagged when every file was scanned clean and hashed.
 */
export interface ScanProgress {
  filesDone: number;
  filesTotal: number;
  bytesDone: number;
  bytesTotal: number;
}

export interface ScanOptions {
  root: string;
  volume: VolumeIdentity;
  engine: ClamavEngine;
  key: StationKey;
  stationId: string;
  expiresDays: number;
  now?: () => Date;
  onProgress?: (p: ScanProgress) => void;
}

export type Finding = { path: string; problem: string };

export type ScanOutcome =
  | { ok: true; flag: ScanFlag; flagPath: string; files: number; bytes: number; ms: number }
  | {
      ok: false;
      reason: 'infected' | 'unscannable' | 'changed-during-scan' | 'no-volume-id';
      detail: string;
      infected: Finding[];
      problems: Finding[];
      files: number;
      bytes: number;
      ms: number;
    };

export async function scanDrive(opts: ScanOptions): Promise<ScanOutcome> {
  const started = performance.now();
  const now = opts.now ?? (() => new Date());
  const fail = (
    reason: Extract<ScanOutcome, { ok: false }>['reason'],
    detail: string,
    infected: Finding[] = [],
    problems: Finding[] = [],
    walk?: TreeWalk,
  ): ScanOutcome => ({
    ok: false,
    reason,
    detail,
    // Reports read best in drive order, whatever order the walk and ClamAV produced.
    infected: infected.sort(byPath),
    problems: problems.sort(byPath),
    files: walk?.files.length ?? 0,
    bytes: walk ? sumBytes(walk.files) : 0,
    ms: Math.round(performance.now() - started),
  });
  // A flag from an earlier scan must not outlive a failed one (the new database may find something).
  removeOldFlag(opts.root);
  if (opts.volume.fsUuid === null && opts.volume.usbSerial === null) {
    return fail('no-volume-id', 'the drive reports neither a file-system UUID nor a USB serial, so a flag could not be bound to it');
  }

  const walk = await walkTree(opts.root, { exclude: new Set([SCAN_FLAG_FILE]), maxFiles: SCAN_FLAG_LIMITS.maxFiles });
  const problems = walkProblems(walk);
  if (problems.length > 0) return fail('unscannable', `${problems.length} item(s) cannot be scanned or flagged`, [], problems, walk);

  const paths = walk.files.map((f) => f.path);
  const absolute = paths.map((p) => join(opts.root, p));
  const progress: ScanProgress = { filesDone: 0, filesTotal: paths.length, bytesDone: 0, bytesTotal: sumBytes(walk.files) };
  const verdicts = new Map<string, FileScanResult>();
  const sizeByAbsolute = new Map(absolute.map((a, i) => [a, walk.files[i]!.size]));
  const hashes: (string | null)[] = new Array(paths.length).fill(null);
  const hashErrors: Finding[] = [];
  const indexByAbsolute = new Map(absolute.map((a, i) => [a, i]));
  const hashing = createHashQueue(opts.root, paths, (i, r) => {
    if ('error' in r) hashErrors.push({ path: paths[i]!, problem: `cannot read: ${r.error}` });
    else if (r.bytes !== walk.files[i]!.size) hashErrors.push({ path: paths[i]!, problem: 'size changed while reading' });
    else hashes[i] = r.sha256;
  });
  const onResult = (path: string, result: FileScanResult) => {
    const before = verdicts.get(path);
    if (!before) {
      progress.filesDone++;
      progress.bytesDone += sizeByAbsolute.get(path) ?? 0;
      opts.onProgress?.(progress);
      // Hashed right after ClamAV read it, from the page cache.
      hashing.push(indexByAbsolute.get(path)!);
    }
    // Keep the worst report for a file: infected over error over clean.
    if (!before || rank(result) > rank(before)) verdicts.set(path, result);
  };
  const listDir = mkdtempSync(join(tmpdir(), 'vigil-scan-'));
  let engineRun: { code: number | null; stderr: string };
  try {
    engineRun = await scanFiles(opts.engine, absolute, join(listDir, 'files.txt'), onResult);
  } finally {
    rmSync(listDir, { recursive: true, force: true });
  }
  await hashing.drained();

  const infected: Finding[] = [];
  const scanProblems: Finding[] = [...hashErrors];
  absolute.forEach((abs, i) => {
    const v = verdicts.get(abs);
    if (!v) scanProblems.push({ path: paths[i]!, problem: 'not scanned by ClamAV' });
    else if (v.status === 'infected') infected.push({ path: paths[i]!, problem: v.signature });
    else if (v.status === 'error') scanProblems.push({ path: paths[i]!, problem: v.message });
  });
  if (infected.length > 0) return fail('infected', `${infected.length} infected file(s) found`, infected, scanProblems, walk);
  if (engineRun.code !== 0 && engineRun.code !== 1) {
    const why =
      engineRun.stderr
        .trim()
        .split('\n')
        .find((l) => !l.startsWith('WARNING')) ?? `exit code ${engineRun.code}`;
    if (scanProblems.length === 0) scanProblems.push({ path: '.', problem: `${opts.engine.command} failed: ${why}` });
  }
  if (scanProblems.length > 0) return fail('unscannable', `${scanProblems.length} file(s) could not be scanned`, [], scanProblems, walk);

  // What was scanned and hashed must be what is on the drive now.
  const after = await walkTree(opts.root, { exclude: new Set([SCAN_FLAG_FILE]), maxFiles: SCAN_FLAG_LIMITS.maxFiles });
  const drift = changedDuringScan(walk, after);
  if (drift.length > 0) return fail('changed-during-scan', 'the drive changed while it was being scanned; scan it again without using it', [], drift, walk);

  const entries: FlagFileEntry[] = walk.files.map((f, i) => ({ path: f.path, size: f.size, mtimeMs: f.mtimeMs, sha256: hashes[i]! }));
  const scannedAt = now();
  const flag = signScanFlag(
    {
      station: { id: opts.stationId, keyId: opts.key.keyId },
      scannedAt: scannedAt.toISOString(),
      expiresAt: new Date(scannedAt.getTime() + opts.expiresDays * 86_400_000).toISOString(),
      volume: opts.volume,
      engine: { name: 'clamav', version: opts.engine.version, databaseVersion: opts.engine.databaseVersion, databaseDigest: opts.engine.databaseDigest },
    },
    entries,
    opts.key.privateKeyPem,
    opts.key.publicKey,
  );
  const text = `${JSON.stringify(flag)}\n`;
  // The station must never write a flag its own verifier would call malformed.
  const selfCheck = parseScanFlag(text);
  if (!selfCheck.ok) throw new Error(`internal error: the flag built for this drive is invalid (${selfCheck.detail})`);
  const flagPath = join(opts.root, SCAN_FLAG_FILE);
  writeFlag(opts.root, flagPath, text);
  return { ok: true, flag, flagPath, files: flag.files.length, bytes: flag.payload.manifest.totalBytes, ms: Math.round(performance.now() - started) };
}

function walkProblems(walk: TreeWalk): Finding[] {
  const problems: Finding[] = [
    ...walk.errors.map((e) => ({ path: e.path, problem: `cannot read: ${e.message}` })),
    ...walk.special.map((s) => ({ path: s.path, problem: `${s.kind} (only regular files can be flagged)` })),
  ];
  if (walk.truncated) problems.push({ path: '.', problem: `more than ${SCAN_FLAG_LIMITS.maxFiles} files` });
  for (const f of walk.files) {
    const bad = pathProblem(f.path);
    if (bad) problems.push({ path: f.path, problem: `unsupported name: ${bad}` });
    else if (f.size > CLAMAV_MAX_FILE_BYTES) problems.push({ path: f.path, problem: 'larger than ClamAV can scan (2 GiB)' });
  }
  return problems;
}

function changedDuringScan(before: TreeWalk, after: TreeWalk): Finding[] {
  const was = new Map<string, TreeFile>(before.files.map((f) => [f.path, f]));
  const out: Finding[] = [];
  for (const f of after.files) {
    const old = was.get(f.path);
    if (!old) out.push({ path: f.path, problem: 'added during the scan' });
    else if (old.size !== f.size || old.mtimeMs !== f.mtimeMs || old.ctimeMs !== f.ctimeMs) out.push({ path: f.path, problem: 'changed during the scan' });
    was.delete(f.path);
  }
  for (const path of was.keys()) out.push({ path, problem: 'removed during the scan' });
  for (const s of after.special) out.push({ path: s.path, problem: 'added during the scan' });
  return out;
}

const byPath = (a: Finding, b: Finding) => comparePaths(a.path, b.path);
const rank = (r: FileScanResult) => (r.status === 'infected' ? 2 : r.status === 'error' ? 1 : 0);
const sumBytes = (files: readonly TreeFile[]) => files.reduce((n, f) => n + f.size, 0);

function removeOldFlag(root: string): void {
  try {
    unlinkSync(join(root, SCAN_FLAG_FILE));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`cannot remove the old flag: ${errorText(error)}`, { cause: error });
  }
}

/**
 * Temporary file, fsync, rename, fsync the directory: a drive pulled out early has the old state
 * or the whole flag. No chmod (FAT has no modes); the flag holds nothing secret.
 */
function writeFlag(root: string, path: string, text: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', 0o644);
  try {
    writeSync(fd, Buffer.from(text));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  try {
    const dir = openSync(root, 'r');
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
  } catch {
    // Some file systems (and Windows) cannot fsync a directory; the file itself is on disk.
  }
}
