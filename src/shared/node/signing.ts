import type { KeyObject } from 'node:crypto';
import { canonicalJson, type CanonicalMemo } from '../canonical-json.js';
import { joinBytes } from './bytes.js';
import { keyId, sha256Hex, signBytes, verifyBytes } from './crypto.js';
import type { Signature, SigningPurpose } from '../signed.js';

/** `memo`: canonical texts of parts already serialised (a large policy's rules). */
export function signingInput(purpose: SigningPurpose, payload: unknown, memo?: CanonicalMemo): Buffer {
  return canonicalSigningInput(purpose, canonicalJson(payload, memo));
}

const signingLine = (purpose: SigningPurpose) => `vigil:${purpose}:v1\n`;

/** The bytes signed: a purpose line, then the canonical JSON (as text, or already encoded as UTF-8). */
function canonicalSigningInput(purpose: SigningPurpose, canonical: string | Uint8Array): Buffer {
  const line = signingLine(purpose);
  return typeof canonical === 'string' ? Buffer.from(line + canonical, 'utf8') : joinBytes([Buffer.from(line, 'utf8'), canonical]);
}

/**
 * The purpose line every signed input starts with, for a caller that builds the input itself
 * from parts (a large policy: one copy of 11 MB instead of two), then calls verifySigningInput.
 */
export function signingPrefix(purpose: SigningPurpose): Buffer {
  return Buffer.from(signingLine(purpose), 'utf8');
}

/** What an `ed25519-sha256` signature is over: its own purpose line, then the digest in hex. */
const digestStatement = (purpose: SigningPurpose, sha256: string) => Buffer.from(`vigil:${purpose}:v1:sha256\n${sha256}`, 'utf8');

/**
 * Verifies a signing input built by the caller: signingPrefix(purpose), then the canonical JSON as
 * UTF-8. `sha256`: the digest of that JSON, when the caller has it (a policy's digest is checked
 * anyway), so an `ed25519-sha256` signature costs no second pass over the bytes.
 */
export function verifySigningInput(purpose: SigningPurpose, input: Uint8Array, signature: Signature, publicKey: string, sha256?: string): boolean {
  if (signature.keyId !== keyId(publicKey)) return false;
  if (signature.alg === 'ed25519') return verifyBytes(publicKey, input, signature.value);
  const digest = sha256 ?? sha256Hex(input.subarray(signingLine(purpose).length));
  return verifyBytes(publicKey, digestStatement(purpose, digest), signature.value);
}

/** Signs a payload by the SHA-256 of its canonical JSON (`ed25519-sha256`), which the caller made. */
export function signDigest(purpose: SigningPurpose, sha256: string, privateKey: KeyObject | string, publicKey: string): Signature {
  return { alg: 'ed25519-sha256', keyId: keyId(publicKey), value: signBytes(privateKey, digestStatement(purpose, sha256)) };
}

/**
 * Signs a payload whose canonical JSON the caller already has (a large policy is serialised once),
 * as text or as its UTF-8 bytes (which the console also hashes and measures: encoded once).
 */
export function signCanonicalText(purpose: SigningPurpose, canonicalText: string | Uint8Array, privateKey: KeyObject | string, publicKey: string): Signature {
  return { alg: 'ed25519', keyId: keyId(publicKey), value: signBytes(privateKey, canonicalSigningInput(purpose, canonicalText)) };
}

export function signPayload(purpose: SigningPurpose, payload: unknown, privateKey: KeyObject | string, publicKey: string): Signature {
  return signCanonicalText(purpose, canonicalJson(payload), privateKey, publicKey);
}

export function verifyPayload(purpose: SigningPurpose, payload: unknown, signature: Signature, publicKey: string): boolean {
  return verifySigningInput(purpose, signingInput(purpose, payload), signature, publicKey);
}
