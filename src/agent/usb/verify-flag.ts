import { lstat, open } from 'node:fs/promises';
import { join } from 'node:path';
import { keyId as keyIdOf } from '../../shared/node/crypto.js';
import { defaultHashWorkers, errorText, hashFiles, SAFE_OPEN_FLAGS, walkTree, type TreeFile } from '../../shared/node/file-tree.js';
import {
  merkleRoot,
  parseScanFlag,
  SCAN_FLAG_FILE,
  SCAN_FLAG_LIMITS,
  type FlagFileEntry,
  type ScanFlag,
  type VolumeIdentity,
} from '../../shared/node/scan-flag.js';
import { verifyPayload } from '../../shared/node/signing.js';

/**
 * Offline verification of a drive's clean-scan flag. Platform-free: it is given the mount
 * point, what the OS says about the volume, and the station keys the device trusts (from its
 * signed policy, later from the console); it reads files with node:fs only.
 */

/** Station keys a device trusts. Revocation wins over trust, so a revoked key can stay listed. */
export interface StationTrust {
  stations: { publicKey: string; stationId?: string }[];
  revokedKeyIds: readonly string[];
}

/** What the OS reports about the mounted volume; null where it does not expose a value. */
export type ObservedVolume = Pick<VolumeIdentity, 'fsUuid' | 'usbSerial'>;

/**
 * fast: size + mtime per file, re-hash only files whose size or mtime changed, detect added and
 * removed files. Catches ordinary changes; someone who rewrites a file and then resets its
 * mtime on purpose is only caught by strict.
 * strict: re-hash every file.
 */
export type VerifyLevel = 'fast' | 'strict';

export type VerdictReason =
  | 'ok'
  | 'not-scanned'
  | 'malformed'
  | 'unknown-station'
  | 'revoked-station'
  | 'bad-signature'
  | 'expired'
  | 'not-yet-valid'
  | 'wrong-volume'
  | 'changed-since-scan'
  | 'unreadable';

export interface ContentChanges {
  added: string[];
  removed: string[];
  modified: string[];
  /** Full counts; the name lists above stop at MAX_LISTED. */
  counts: { added: number; removed: number; modified: number };
}

export interface Verdict {
  ok: boolean;
  reason: VerdictReason;
  /** One line for logs and IT staff. */
  detail: string;
  level: VerifyLevel;
  flag?: Pick<ScanFlag['payload'], 'station' | 'scannedAt' | 'expiresAt' | 'volume'>;
  changes?: ContentChanges;
  stats: { files: number; hashedFiles: number; hashedBytes: number; ms: number };
}

export interface VerifyOptions {
  trust: StationTrust;
  volume: ObservedVolume;
  level: VerifyLevel;
  now?: Date;
  /** Hashing threads; default: every core (up to four) when there is much to hash. */
  hashWorkers?: number;
}

const MAX_LISTED = 50;
const WORKER_THRESHOLD_BYTES = 16 * 1024 * 1024;
/** A station clock a little ahead of the device's should not make a fresh flag unusable. */
const FUTURE_SKEW_MS = 10 * 60 * 1000;

/** Never throws: every failure, including I/O errors, becomes a verdict. */
export async function verifyDriveFlag(root: string, opts: VerifyOptions): Promise<Verdict> {
  const started = performance.now();
  const stats = { files: 0, hashedFiles: 0, hashedBytes: 0, ms: 0 };
  const finish = (v: Omit<Verdict, 'stats' | 'level'>): Verdict => ({
    ...v,
    level: opts.level,
    stats: { ...stats, ms: Math.round(performance.now() - started) },
  });
  try {
    const raw = await readFlagFile(join(root, SCAN_FLAG_FILE));
    if (raw.status === 'missing') return finish({ ok: false, reason: 'not-scanned', detail: 'no clean-scan flag on this drive' });
    if (raw.status === 'error') return finish({ ok: false, reason: raw.reason, detail: raw.detail });
    const header = checkFlag(raw.bytes, opts);
    if (!header.ok) return finish(header.verdict);
    const { flag } = header;
    const summary = summarise(flag);
    const changes = await compareContents(root, flag.files, opts, stats);
    if ('error' in changes) return finish({ ok: false, reason: 'unreadable', detail: changes.error, flag: summary });
    const { counts } = changes;
    if (counts.added + counts.removed + counts.modified > 0) {
      return finish({ ok: false, reason: 'changed-since-scan', detail: describeChanges(changes), flag: summary, changes });
    }
    return finish({
      ok: true,
      reason: 'ok',
      detail: `scanned clean by station ${flag.payload.station.id} at ${flag.payload.scannedAt}; ${flag.files.length} files match`,
      flag: summary,
    });
  } catch (error) {
    return finish({ ok: false, reason: 'unreadable', detail: `could not check the drive: ${errorText(error)}` });
  }
}

type FlagRead = { status: 'missing' } | { status: 'error'; reason: 'malformed' | 'unreadable'; detail: string } | { status: 'ok'; bytes: Buffer };

/**
 * Reads at most maxFlagBytes + 1, so a huge file costs nothing. Only a regular file is opened:
 * a FIFO would block the open for ever, a symlink could point off the drive.
 */
async function readFlagFile(path: string): Promise<FlagRead> {
  let handle;
  try {
    if (!(await lstat(path)).isFile()) return { status: 'error', reason: 'malformed', detail: 'the flag is not a regular file' };
    handle = await open(path, SAFE_OPEN_FLAGS);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { status: 'missing' };
    return { status: 'error', reason: 'unreadable', detail: `cannot open the flag file: ${errorText(error)}` };
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) return { status: 'error', reason: 'malformed', detail: 'the flag is not a regular file' };
    const limit = SCAN_FLAG_LIMITS.maxFlagBytes;
    const buffer = Buffer.alloc(Math.min(st.size, limit) + 1);
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length > limit) return { status: 'error', reason: 'malformed', detail: `flag file is larger than ${limit} bytes` };
    return { status: 'ok', bytes: buffer.subarray(0, length) };
  } finally {
    await handle.close();
  }
}

/** What a verdict says about the flag: enough for an audit event, without the manifest. */
function summarise({ payload }: ScanFlag): NonNullable<Verdict['flag']> {
  return { station: payload.station, scannedAt: payload.scannedAt, expiresAt: payload.expiresAt, volume: payload.volume };
}

type FlagCheck = { ok: true; flag: ScanFlag } | { ok: false; verdict: Omit<Verdict, 'stats' | 'level'> };

/**
 * Everything that does not need the drive's files: format, station key, signature, manifest
 * root, times and volume. Exported so the mount watcher can reject cheaply before walking.
 */
export function checkFlag(raw: Uint8Array, opts: Pick<VerifyOptions, 'trust' | 'volume' | 'now'>): FlagCheck {
  const fail = (reason: VerdictReason, detail: string, flag?: ScanFlag): FlagCheck => ({
    ok: false,
    verdict: { ok: false, reason, detail, ...(flag ? { flag: summarise(flag) } : {}) },
  });
  const parsed = parseScanFlag(raw);
  if (!parsed.ok) return fail('malformed', `flag file is malformed: ${parsed.detail}`);
  const { flag } = parsed;
  const { payload, signature } = flag;
  if (signature.keyId !== payload.station.keyId) return fail('bad-signature', 'signature key does not match the station named in the flag', flag);
  if (opts.trust.revokedKeyIds.includes(signature.keyId))
    return fail('revoked-station', `station key ${signature.keyId} (${payload.station.id}) has been revoked`, flag);
  const station = opts.trust.stations.find((s) => keyIdOf(s.publicKey) === signature.keyId);
  if (!station) return fail('unknown-station', `flag signed by station key ${signature.keyId} (${payload.station.id}), which this device does not trust`, flag);
  if (!verifyPayload('scan-flag', payload, signature, station.publicKey))
    return fail('bad-signature', 'signature does not match the flag contents (altered after signing)', flag);
  if (merkleRoot(flag.files) !== payload.manifest.root)
    return fail('bad-signature', 'file list does not match its signed summary (altered after signing)', flag);
  const now = (opts.now ?? new Date()).getTime();
  if (Date.parse(payload.expiresAt) <= now) return fail('expired', `flag expired at ${payload.expiresAt}`, flag);
  if (Date.parse(payload.scannedAt) > now + FUTURE_SKEW_MS) return fail('not-yet-valid', `flag dated in the future (${payload.scannedAt})`, flag);
  const volumeProblem = compareVolume(payload.volume, opts.volume);
  if (volumeProblem) return fail('wrong-volume', volumeProblem, flag);
  return { ok: true, flag };
}

/**
 * The file-system UUID must match when the flag has one. The USB serial is compared when both
 * sides know it; a flag bound only to a serial needs the serial to be readable here.
 */
function compareVolume(signed: VolumeIdentity, observed: ObservedVolume): string | null {
  if (signed.fsUuid !== null && signed.fsUuid.toLowerCase() !== (observed.fsUuid ?? '').toLowerCase()) {
    return `flag belongs to volume ${signed.fsUuid}, this drive is ${observed.fsUuid ?? 'without a file-system id'}`;
  }
  if (signed.usbSerial !== null && observed.usbSerial !== null && signed.usbSerial !== observed.usbSerial) {
    return `flag belongs to USB device ${signed.usbSerial}, this drive is ${observed.usbSerial}`;
  }
  if (signed.fsUuid === null && observed.usbSerial === null) return 'flag is bound to a USB serial this device cannot read';
  return null;
}

async function compareContents(
  root: string,
  manifest: readonly FlagFileEntry[],
  { level, hashWorkers }: Pick<VerifyOptions, 'level' | 'hashWorkers'>,
  stats: Verdict['stats'],
): Promise<ContentChanges | { error: string }> {
  // One more than the manifest allows, so "too many files" shows up as added files.
  const walk = await walkTree(root, { exclude: new Set([SCAN_FLAG_FILE]), maxFiles: SCAN_FLAG_LIMITS.maxFiles + 1 });
  if (walk.errors.length > 0) return { error: `cannot read ${walk.errors[0]!.path}: ${walk.errors[0]!.message}` };
  stats.files = walk.files.length;
  const onDisk = new Map<string, TreeFile>(walk.files.map((f) => [f.path, f]));
  const changes: ContentChanges = { added: [], removed: [], modified: [], counts: { added: 0, removed: 0, modified: 0 } };
  const note = (kind: 'added' | 'removed' | 'modified', path: string) => {
    changes.counts[kind]++;
    if (changes[kind].length < MAX_LISTED) changes[kind].push(path);
  };
  const listed = new Set<string>();
  const toHash: FlagFileEntry[] = [];
  for (const entry of manifest) {
    listed.add(entry.path);
    const file = onDisk.get(entry.path);
    if (!file) note('removed', entry.path);
    else if (file.size !== entry.size) note('modified', entry.path);
    else if (level === 'strict' || file.mtimeMs !== entry.mtimeMs) toHash.push(entry);
  }
  for (const file of walk.files) if (!listed.has(file.path)) note('added', file.path);
  for (const special of walk.special) note('added', special.path);
  if (walk.truncated) note('added', '(more files than a flag may list)');

  let readError: string | null = null;
  // Threads cost a few tens of milliseconds to start: worth it only for real amounts of data.
  const bytesToHash = toHash.reduce((n, e) => n + e.size, 0);
  const workers = hashWorkers ?? (bytesToHash > WORKER_THRESHOLD_BYTES ? defaultHashWorkers() : 0);
  await hashFiles(
    root,
    toHash.map((e) => e.path),
    (index, result) => {
      const entry = toHash[index]!;
      if ('error' in result) readError ??= `cannot read ${entry.path}: ${result.error}`;
      else {
        stats.hashedFiles++;
        stats.hashedBytes += result.bytes;
        if (result.sha256 !== entry.sha256 || result.bytes !== entry.size) note('modified', entry.path);
      }
    },
    { workers },
  );
  if (readError) return { error: readError };
  changes.modified.sort();
  return changes;
}

function describeChanges(c: ContentChanges): string {
  const part = (n: number, word: string, names: string[]) => (n ? `${n} ${word} (${names.slice(0, 3).join(', ')}${n > 3 ? ', …' : ''})` : '');
  return `drive changed since it was scanned: ${[part(c.counts.added, 'added', c.added), part(c.counts.removed, 'removed', c.removed), part(c.counts.modified, 'modified', c.modified)].filter(Boolean).join('; ')}`;
}
