import { createHash } from 'node:crypto';
import { z } from 'zod';
import { canonicalJson } from '../canonical-json.js';
import { cleanText, IsoDateTime } from '../text.js';
import type { KeyObject } from 'node:crypto';
import { KeyIdSchema, SignatureSchema } from '../signed.js';
import { signPayload } from './signing.js';
import { summariseZodError } from '../zod-errors.js';

/**
 * The clean-scan flag: a JSON file the school's scan station writes at the root of a drive it
 * scanned clean. The signed payload binds the volume, the scan (engine, database, time, expiry,
 * station) and a Merkle root over the manifest of files; the manifest itself travels next to
 * the payload and is authenticated through that root, so the signature input stays small and a
 * verifier can re-check files one at a time.
 */
export const SCAN_FLAG_FILE = '.vigil-clean-scan.json';
export const SCAN_FLAG_FORMAT = 'vigil-clean-scan';
export const MERKLE_ALGORITHM = 'vigil-merkle-sha256-v1';

export const SCAN_FLAG_LIMITS = {
  /** A school drive with more files than this is refused rather than half-checked. */
  maxFiles: 100_000,
  /** Characters in a relative path / in one path segment (FAT and ext4 allow 255 per name). */
  maxPathLength: 1024,
  maxSegmentLength: 255,
  /** Largest flag file a verifier reads (about 100,000 entries of long paths). */
  maxFlagBytes: 32 * 1024 * 1024,
} as const;

const Sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'not a SHA-256 hex digest');
const ShortId = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .regex(/^[A-Za-z0-9._:-]+$/, 'unexpected characters');
const PrintableText = (max: number) =>
  z
    .string()
    .max(max)
    .regex(/^[\x20-\x7e]*$/, 'unexpected characters');

export const FlagFileEntrySchema = z.strictObject({
  path: z.string().min(1).max(SCAN_FLAG_LIMITS.maxPathLength),
  size: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  /** Whole milliseconds; a hint for fast verification (a file whose size and mtime match is not re-hashed). */
  mtimeMs: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  sha256: Sha256Hex,
});
export type FlagFileEntry = z.infer<typeof FlagFileEntrySchema>;

/** What identifies the drive. A value the OS does not expose is null, never guessed. */
export const VolumeIdentitySchema = z.strictObject({
  /** File-system UUID (ext4) or volume serial (FAT/exFAT/NTFS), as blkid prints it. */
  fsUuid: ShortId(64).nullable(),
  fsType: ShortId(32).nullable(),
  label: PrintableText(64).nullable(),
  /** The USB device's serial number when the bridge exposes one. */
  usbSerial: PrintableText(128).nullable(),
});
export type VolumeIdentity = z.infer<typeof VolumeIdentitySchema>;

export const ScanFlagPayloadSchema = z.strictObject({
  station: z.strictObject({ id: ShortId(64), keyId: KeyIdSchema }),
  scannedAt: IsoDateTime,
  expiresAt: IsoDateTime,
  volume: VolumeIdentitySchema.refine((v) => v.fsUuid !== null || v.usbSerial !== null, 'volume has neither a file-system UUID nor a USB serial'),
  engine: z.strictObject({
    name: z.literal('clamav'),
    version: PrintableText(64),
    /** The daily database version ClamAV reports, when it reports one (custom databases do not). */
    databaseVersion: PrintableText(64).nullable(),
    /** SHA-256 over the database directory the station used (null when clamd's own was used). */
    databaseDigest: Sha256Hex.nullable(),
  }),
  manifest: z.strictObject({
    algorithm: z.literal(MERKLE_ALGORITHM),
    root: Sha256Hex,
    fileCount: z.number().int().min(0).max(SCAN_FLAG_LIMITS.maxFiles),
    totalBytes: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  }),
});
export type ScanFlagPayload = z.infer<typeof ScanFlagPayloadSchema>;

export const ScanFlagSchema = z.strictObject({
  format: z.literal(SCAN_FLAG_FORMAT),
  v: z.literal(1),
  payload: ScanFlagPayloadSchema,
  signature: SignatureSchema,
  files: z.array(FlagFileEntrySchema).max(SCAN_FLAG_LIMITS.maxFiles),
});
export type ScanFlag = z.infer<typeof ScanFlagSchema>;

/**
 * Why a relative path may not appear in a manifest, or null if it may. The rules keep every
 * path inside the drive on every OS: no absolute paths, no `..`, no backslashes or drive
 * letters / alternate streams (`:`), no control characters (they would also break ClamAV's
 * one-path-per-line file list).
 */
export function pathProblem(path: string): string | null {
  if (path.length === 0) return 'empty path';
  if (path.length > SCAN_FLAG_LIMITS.maxPathLength) return `path longer than ${SCAN_FLAG_LIMITS.maxPathLength} characters`;
  if (path.startsWith('/')) return 'absolute path';
  if (path.includes('\\')) return 'backslash in path';
  if (path.includes(':')) return 'colon in path';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(path)) return path.includes('\u0000') ? 'NUL in path' : 'control character in path';
  if (path.includes('\uFFFD')) return 'file name is not valid UTF-8';
  for (const segment of path.split('/')) {
    if (segment === '') return 'empty path segment';
    if (segment === '.' || segment === '..') return `"${segment}" segment in path`;
    if (segment.length > SCAN_FLAG_LIMITS.maxSegmentLength) return `name longer than ${SCAN_FLAG_LIMITS.maxSegmentLength} characters`;
  }
  return null;
}

/** Manifest order: by the UTF-8 bytes of the path, the same on every platform and locale. */
export function comparePaths(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * Merkle leaf. The suggested leaf was (path, size, sha256); mtime is included as well because
 * fast verification trusts it to skip re-hashing, so it must not be editable in the JSON.
 * Domain bytes (0 leaf, 1 node, 2 empty) keep a leaf from being passed off as a node.
 */
export function leafHash(entry: FlagFileEntry): Buffer {
  return createHash('sha256')
    .update(Buffer.of(0))
    .update(canonicalJson([entry.path, entry.size, entry.mtimeMs, entry.sha256]))
    .digest();
}

/** Root over leaves in manifest order. An odd node is carried up unchanged (never duplicated). */
export function merkleRoot(entries: readonly FlagFileEntry[]): string {
  if (entries.length === 0) return createHash('sha256').update(Buffer.of(2)).digest('hex');
  let level = entries.map(leafHash);
  while (level.length > 1) {
    const next: Buffer[] = [];
    for (let i = 0; i < level.length; i += 2) {
      const right = level[i + 1];
      next.push(right ? createHash('sha256').update(Buffer.of(1)).update(level[i]!).update(right).digest() : level[i]!);
    }
    level = next;
  }
  return level[0]!.toString('hex');
}

/** Orders entries and returns the manifest summary the payload signs. */
export function buildManifest(entries: FlagFileEntry[]): { files: FlagFileEntry[]; manifest: ScanFlagPayload['manifest'] } {
  const files = [...entries].sort((a, b) => comparePaths(a.path, b.path));
  return {
    files,
    manifest: {
      algorithm: MERKLE_ALGORITHM,
      root: merkleRoot(files),
      fileCount: files.length,
      totalBytes: files.reduce((sum, f) => sum + f.size, 0),
    },
  };
}

/** Orders the manifest, summarises it into the payload and signs: the one way a flag is made. */
export function signScanFlag(header: Omit<ScanFlagPayload, 'manifest'>, entries: FlagFileEntry[], privateKey: KeyObject | string, publicKey: string): ScanFlag {
  const { files, manifest } = buildManifest(entries);
  const payload: ScanFlagPayload = { ...header, manifest };
  return { format: SCAN_FLAG_FORMAT, v: 1, payload, signature: signPayload('scan-flag', payload, privateKey, publicKey), files };
}

export type FlagParse = { ok: true; flag: ScanFlag } | { ok: false; detail: string };

/**
 * Parses flag bytes: JSON, schema, then the rules zod cannot express (paths, order, duplicates,
 * counts). Never throws; says what is wrong in one line. Does not check the signature or the
 * Merkle root — that needs the trusted keys (see agent/usb/verify-flag.ts).
 */
export function parseScanFlag(raw: string | Uint8Array): FlagParse {
  const size = typeof raw === 'string' ? Buffer.byteLength(raw) : raw.byteLength;
  if (size > SCAN_FLAG_LIMITS.maxFlagBytes) return { ok: false, detail: `flag file is ${size} bytes; the limit is ${SCAN_FLAG_LIMITS.maxFlagBytes}` };
  let data: unknown;
  try {
    data = JSON.parse(typeof raw === 'string' ? raw : Buffer.from(raw).toString('utf8'));
  } catch (error) {
    return { ok: false, detail: `not JSON: ${cleanText((error as Error).message, 120)}` };
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return { ok: false, detail: 'not a JSON object' };
  // Checked before the full schema so a huge hostile array is refused without validating each item.
  const files = (data as { files?: unknown }).files;
  if (Array.isArray(files) && files.length > SCAN_FLAG_LIMITS.maxFiles) {
    return { ok: false, detail: `manifest lists ${files.length} files; the limit is ${SCAN_FLAG_LIMITS.maxFiles}` };
  }
  const parsed = ScanFlagSchema.safeParse(data);
  if (!parsed.success) return { ok: false, detail: summariseZodError(parsed.error) };
  const flag = parsed.data;
  const problem = manifestProblem(flag);
  return problem ? { ok: false, detail: problem } : { ok: true, flag };
}

function manifestProblem(flag: ScanFlag): string | null {
  const { files, payload } = flag;
  if (files.length !== payload.manifest.fileCount) return `manifest lists ${files.length} files but the signed count is ${payload.manifest.fileCount}`;
  const seen = new Set<string>();
  let total = 0;
  for (let i = 0; i < files.length; i++) {
    const { path, size } = files[i]!;
    const problem = pathProblem(path);
    if (problem) return `files.${i}: ${problem} (${JSON.stringify(path.slice(0, 80))})`;
    if (path === SCAN_FLAG_FILE) return `files.${i}: the flag file cannot list itself`;
    if (seen.has(path)) return `files.${i}: duplicate path ${JSON.stringify(path.slice(0, 80))}`;
    seen.add(path);
    if (i > 0 && comparePaths(files[i - 1]!.path, path) > 0) return `files.${i}: manifest is not in path order`;
    total += size;
  }
  if (total !== payload.manifest.totalBytes) return `files add up to ${total} bytes but the signed total is ${payload.manifest.totalBytes}`;
  return null;
}
