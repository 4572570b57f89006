import { promisify } from 'node:util';
import { brotliCompress, brotliCompressSync, brotliDecompressSync, constants, createBrotliCompress, createGzip, gunzipSync, gzip, gzipSync } from 'node:zlib';
import { canonicalJson, type CanonicalMemo } from '../canonical-json.js';
import { totalLength } from './bytes.js';
import { sha256Hex } from './crypto.js';
import type { PolicyBundle } from '../policy.js';
import { POLICY_LIMITS } from '../policy-limits.js';
import { checkAssembledBundle, checkPolicyBundle, policyDigest, ruleTexts, type BundleRejection } from './policy-verify.js';
import { PolicyDeltaSchema, type BundleEncoding, type DeliveryProblem, type PolicyAvailableMessage, type PolicyDelta } from '../policies/delivery.js';
import { applyDelta } from '../policies/delta.js';
import { applyDeltaToText, canonicalPartsAround, keptListText, type SlotBytes } from './policy-text.js';
import { summariseZodError } from '../zod-errors.js';

/**
 * The bytes of policy delivery (Node; both ends): the console encodes a signed bundle or delta
 * once and serves it to every device that needs it; the agent checks every byte it receives —
 * the compressed bytes against the notice, what they inflate to against the size limit, the
 * payload against the notified digest — before the signature and rollback checks it always makes.
 */

export interface EncodedBlob {
  bytes: Buffer;
  encoding: BundleEncoding;
  /** SHA-256 of `bytes`, as the notice announces them. */
  sha256: string;
  /** Uncompressed length. */
  size: number;
}

/**
 * Brotli at quality 1 by default. Rules are mostly SHA-256 hex, which no format squeezes below
 * about 30%. On 100,000 hash rules (11.1 MB) brotli 1 gave 3.50 MB in 29 ms, gzip -6 3.72 MB in
 * 114 ms; on a mix of hash, path and signer rules 1.71 MB in 16 ms against 1.85 MB in 67 ms; and
 * it inflates a little faster on the device (23 against 27 ms). Higher brotli qualities were
 * slower for little or nothing (quality 4: 3.47 MB in 126 ms). The console compresses one bundle
 * per group set on every change, and devices are told only once it is ready. gzip stays
 * available (the notice names the encoding; agents take both).
 */
export const DEFAULT_ENCODING: BundleEncoding = 'br';

/**
 * Output bytes per pass of the compressor. Node's asynchronous zlib compresses one output chunk
 * per trip to libuv's pool, and each trip waits for a turn of the event loop: at the default
 * 16 KB a 3.5 MB bundle took over 200 turns, so on a busy console a bundle (which devices are
 * told of only once it is ready) or a revision's write (inside its transaction) waited on every
 * other task, and unfinished compressions piled up with their 11 MB inputs. A few trips now.
 */
const COMPRESS_CHUNK_BYTES = 1024 * 1024;
const brotliOptions = (size: number) => ({
  chunkSize: COMPRESS_CHUNK_BYTES,
  params: { [constants.BROTLI_PARAM_QUALITY]: 1, [constants.BROTLI_PARAM_SIZE_HINT]: size },
});
const GZIP_OPTIONS = { level: 6, chunkSize: COMPRESS_CHUNK_BYTES };
const blob = (size: number, bytes: Buffer, encoding: BundleEncoding): EncodedBlob => ({ bytes, encoding, sha256: sha256Hex(bytes), size });

export function compress(text: string, encoding: BundleEncoding): EncodedBlob {
  const raw = Buffer.from(text, 'utf8');
  return blob(raw.length, encoding === 'br' ? brotliCompressSync(raw, brotliOptions(raw.length)) : gzipSync(raw, GZIP_OPTIONS), encoding);
}

const brotliAsync = promisify(brotliCompress);
const gzipAsync = promisify(gzip);

/**
 * The same, on libuv's thread pool: the console keeps serving while a big bundle compresses. Bytes
 * given in parts are compressed as one stream, in order, without being joined first.
 */
export async function compressAsync(text: string | Buffer | readonly Uint8Array[], encoding: BundleEncoding): Promise<EncodedBlob> {
  if (Array.isArray(text)) return compressParts(text, encoding);
  const raw = typeof text === 'string' ? Buffer.from(text, 'utf8') : (text as Buffer);
  return blob(raw.length, encoding === 'br' ? await brotliAsync(raw, brotliOptions(raw.length)) : await gzipAsync(raw, GZIP_OPTIONS), encoding);
}

function compressParts(parts: readonly Uint8Array[], encoding: BundleEncoding): Promise<EncodedBlob> {
  const size = totalLength(parts);
  return new Promise((resolve, reject) => {
    const stream = encoding === 'br' ? createBrotliCompress(brotliOptions(size)) : createGzip(GZIP_OPTIONS);
    const out: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => out.push(chunk));
    stream.once('end', () => resolve(blob(size, Buffer.concat(out), encoding)));
    stream.once('error', reject);
    for (const part of parts) if (part.length > 0) stream.write(part);
    stream.end();
  });
}

export interface EncodedBundle extends EncodedBlob {
  version: number;
  /** policyDigest of the payload: names the bundle in URLs and notices. */
  digest: string;
}

/** Only the two members: a caller's object may carry more (its digest, say) that is not the bundle. */
const bundleText = (bundle: PolicyBundle, memo?: CanonicalMemo) => canonicalJson({ payload: bundle.payload, signature: bundle.signature }, memo);

function encoded(bundle: PolicyBundle, blob: EncodedBlob, digest?: string): EncodedBundle {
  if (blob.size > POLICY_LIMITS.bundleBytes)
    throw new RangeError(`the signed bundle is ${blob.size} bytes; the bundle size limit is ${POLICY_LIMITS.bundleBytes}`);
  return { ...blob, version: bundle.payload.version, digest: digest ?? policyDigest(bundle.payload) };
}

export function encodeBundle(bundle: PolicyBundle, encoding: BundleEncoding = DEFAULT_ENCODING): EncodedBundle {
  return encoded(bundle, compress(bundleText(bundle), encoding));
}

/**
 * The same, compressing on libuv's thread pool. The console signed the payload and knows its
 * digest and canonical text (`memo`): serialising 100,000 rules again would hold its event loop.
 */
export async function encodeBundleAsync(
  bundle: PolicyBundle,
  encoding: BundleEncoding,
  known: { memo?: CanonicalMemo; digest?: string; payloadBytes?: SlotBytes } = {},
): Promise<EncodedBundle> {
  const raw = known.payloadBytes ? bundlePartsAround(known.payloadBytes, bundle) : bundleText(bundle, known.memo);
  return encoded(bundle, await compressAsync(raw, encoding), known.digest);
}

/**
 * The bundle's canonical JSON around its payload's, given as bytes (the signer just made them), in
 * parts: serialising 11 MB again held the console's event loop for about 50 ms per group set, and
 * joining the parts into one buffer to compress cost a fresh copy of it.
 */
function bundlePartsAround(payloadBytes: SlotBytes, bundle: PolicyBundle): Uint8Array[] {
  const slot = {};
  return canonicalPartsAround({ payload: slot, signature: bundle.signature }, [[slot, payloadBytes]]);
}

export function noticeFor(bundle: EncodedBundle, delta?: EncodedBlob & { fromDigest: string }): PolicyAvailableMessage {
  return {
    v: 1,
    type: 'policy.available',
    version: bundle.version,
    digest: bundle.digest,
    size: bundle.size,
    compressed: { encoding: bundle.encoding, size: bundle.bytes.length, sha256: bundle.sha256 },
    ...(delta
      ? {
          delta: {
            fromDigest: delta.fromDigest,
            size: delta.bytes.length,
            sha256: delta.sha256,
            ...(delta.bytes.length <= POLICY_LIMITS.inlineDeltaBytes ? { inline: delta.bytes.toString('base64') } : {}),
          },
        }
      : {}),
  };
}

export type DeliveryCheck = { ok: true; bundle: PolicyBundle } | { ok: false; problem: DeliveryProblem | BundleRejection; detail: string };

/** The bytes a blob compresses, refusing to inflate past `limit` (a RangeError). */
export function inflate(bytes: Buffer, encoding: BundleEncoding, limit: number): Buffer {
  const options = { maxOutputLength: limit + 1 };
  const out = encoding === 'br' ? brotliDecompressSync(bytes, options) : gunzipSync(bytes, options);
  if (out.length > limit) throw new RangeError(`inflates beyond ${limit} bytes`);
  return out;
}

function readCompressed(
  bytes: Buffer,
  expected: { encoding: BundleEncoding; size: number; sha256: string },
  limit: number,
): { ok: true; value: unknown } | { ok: false; problem: DeliveryProblem; detail: string } {
  if (bytes.length !== expected.size || sha256Hex(bytes) !== expected.sha256) {
    return { ok: false, problem: 'compressed-digest-mismatch', detail: `received ${bytes.length} bytes that are not the ${expected.size} announced` };
  }
  let text: Buffer;
  try {
    text = inflate(bytes, expected.encoding, limit);
  } catch (error) {
    const tooBig = error instanceof RangeError || (error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE';
    return tooBig
      ? {
          ok: false,
          problem: 'too-large',
          detail: `inflates beyond ${limit} bytes (the announced size, at most the bundle size limit ${POLICY_LIMITS.bundleBytes})`,
        }
      : { ok: false, problem: 'malformed', detail: `cannot inflate: ${(error as Error).message}` };
  }
  try {
    return { ok: true, value: JSON.parse(text.toString('utf8')) };
  } catch {
    return { ok: false, problem: 'malformed', detail: 'not JSON' };
  }
}

export interface TrustContext {
  trustedKey: string;
  heldVersion: number | null;
  now?: Date;
}

/** A full bundle fetched after a notice: every byte checked before the usual bundle checks. */
export function decodeBundle(bytes: Buffer, notice: PolicyAvailableMessage, trust: TrustContext): DeliveryCheck {
  if (notice.size > POLICY_LIMITS.bundleBytes)
    return { ok: false, problem: 'too-large', detail: `announced ${notice.size} bytes; the bundle size limit is ${POLICY_LIMITS.bundleBytes}` };
  // The bundle is the payload plus a signature: a little larger than the payload the size counts.
  const read = readCompressed(bytes, notice.compressed, Math.min(notice.size + 1024, POLICY_LIMITS.bundleBytes + 1024));
  if (!read.ok) return read;
  const check = checkPolicyBundle(read.value, trust);
  if (!check.ok) return { ok: false, problem: check.reason, detail: check.detail };
  const digest = policyDigest(check.bundle.payload);
  if (digest !== notice.digest)
    return { ok: false, problem: 'digest-mismatch', detail: `the bundle's digest ${digest.slice(0, 12)}… is not the announced ${notice.digest.slice(0, 12)}…` };
  return check;
}

export function encodeDelta(delta: PolicyDelta, encoding: BundleEncoding = DEFAULT_ENCODING): EncodedBlob & { fromDigest: string } {
  return { ...compress(canonicalJson(delta), encoding), fromDigest: delta.fromDigest };
}

/**
 * A delta fetched after a notice, applied to the bundle the agent holds. Whatever goes wrong —
 * bytes, shape, positions, digest, signature — the answer is "not taken"; the agent then fetches
 * the full bundle.
 */
export function decodeDelta(bytes: Buffer, notice: PolicyAvailableMessage, held: PolicyBundle, trust: TrustContext): DeliveryCheck {
  if (!notice.delta) return { ok: false, problem: 'malformed', detail: 'no delta was announced' };
  if (notice.delta.fromDigest !== policyDigest(held.payload))
    return { ok: false, problem: 'delta-mismatch', detail: 'the delta is not from the policy this device holds' };
  const read = readCompressed(bytes, { encoding: notice.compressed.encoding, size: notice.delta.size, sha256: notice.delta.sha256 }, POLICY_LIMITS.bundleBytes);
  if (!read.ok) return read;
  const parsed = PolicyDeltaSchema.safeParse(read.value);
  if (!parsed.success) return { ok: false, problem: 'malformed', detail: summariseZodError(parsed.error) };
  const delta = parsed.data;
  if (delta.toDigest !== notice.digest || delta.toVersion !== notice.version)
    return { ok: false, problem: 'delta-mismatch', detail: 'the delta does not lead to the announced version' };
  // The rule lists hold the held bundle's checked records and the delta's parsed additions: the
  // rest of the payload is parsed, the lists are not parsed again (policy-verify.ts). When the
  // held lists' signed text is kept (policy-text.ts), the result's text is built from it.
  const heldText = keptListText(held.payload);
  let check;
  if (heldText) {
    const applied = applyDeltaToText(held.payload, heldText, delta, ruleTexts);
    if (!applied.ok) return { ok: false, problem: 'delta-mismatch', detail: applied.detail };
    const { shell, lists } = applied;
    const items = lists && { rules: lists.rules.items, exceptions: lists.exceptions.items };
    check = checkAssembledBundle({ payload: shell, signature: delta.signature }, items, trust, lists ?? undefined);
  } else {
    const applied = applyDelta(held.payload, delta, ruleTexts);
    if (!applied.ok) return { ok: false, problem: 'delta-mismatch', detail: applied.detail };
    check = checkAssembledBundle({ payload: applied.parts.shell, signature: delta.signature }, applied.parts.lists, trust);
  }
  if (!check.ok) return { ok: false, problem: check.reason === 'bad-signature' ? 'delta-mismatch' : check.reason, detail: check.detail };
  const digest = policyDigest(check.bundle.payload);
  if (digest !== delta.toDigest) return { ok: false, problem: 'delta-mismatch', detail: 'the delta does not reproduce the signed document' };
  return check;
}
