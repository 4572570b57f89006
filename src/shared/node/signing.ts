import type { KeyObject } from 'node:crypto';
import { canonicalJson, type CanonicalMemo } from '../canonical-json.js';
import { joinBytes } from './bytes.js';
import { keyId, signBytes, verifyBytes } from './crypto.js';
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

/** Verifies a signing input built by the caller: signingPrefix, then the canonical JSON as UTF-8. */
export function verifySigningInput(input: Uint8Array, signature: Signature, publicKey: string): boolean {
  if (signature.keyId !== keyId(publicKey)) return false;
  return verifyBytes(publicKey, input, signature.value);
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
  return verifySigningInput(signingInput(purpose, payload), signature, publicKey);
}
