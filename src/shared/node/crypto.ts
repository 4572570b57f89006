import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  sign as nodeSign,
  verify as nodeVerify,
  type KeyObject,
} from 'node:crypto';
import { BoundedCache } from '../bounded-cache.js';

/** DER prefix of an Ed25519 SubjectPublicKeyInfo; the raw 32-byte key follows it. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export interface Ed25519KeyPair {
  /** Raw 32-byte public key, base64. This is the form that travels in messages. */
  publicKey: string;
  /** PKCS#8 PEM. Never leaves the machine that generated it. */
  privateKeyPem: string;
}

export function generateEd25519KeyPair(): Ed25519KeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return {
    publicKey: rawPublicKey(publicKey),
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

function rawPublicKey(key: KeyObject): string {
  const der = key.export({ type: 'spki', format: 'der' });
  return der.subarray(ED25519_SPKI_PREFIX.length).toString('base64');
}

export function publicKeyFromPrivatePem(privateKeyPem: string): string {
  return rawPublicKey(createPublicKey(createPrivateKey(privateKeyPem)));
}

/**
 * Keys parsed before: a console checks a signature from each of its devices again and again (every
 * policy fetch is signed), and parsing the key took as long as checking the signature. A parsed
 * key depends on its text alone; one process holds at most a fleet's worth.
 */
const parsedKeys = new BoundedCache<string, KeyObject | null>(50_000);
const keyIds = new BoundedCache<string, string>(50_000);

/** Parses a raw base64 Ed25519 public key; returns null for anything that is not exactly one. */
export function importPublicKey(publicKeyB64: string): KeyObject | null {
  return parsedKeys.get(publicKeyB64, parsePublicKey);
}

function parsePublicKey(publicKeyB64: string): KeyObject | null {
  const raw = Buffer.from(publicKeyB64, 'base64');
  if (raw.length !== 32 || raw.toString('base64') !== publicKeyB64) return null;
  try {
    return createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
  } catch {
    return null;
  }
}

export function signBytes(privateKey: KeyObject | string, data: Uint8Array): string {
  const key = typeof privateKey === 'string' ? createPrivateKey(privateKey) : privateKey;
  return nodeSign(null, data, key).toString('base64');
}

/** Never throws: malformed keys or signatures simply fail verification. */
export function verifyBytes(publicKeyB64: string, data: Uint8Array, signatureB64: string): boolean {
  const key = importPublicKey(publicKeyB64);
  if (!key) return false;
  const signature = Buffer.from(signatureB64, 'base64');
  if (signature.length !== 64) return false;
  try {
    return nodeVerify(null, data, key, signature);
  } catch {
    return false;
  }
}

/** Short, stable name for a public key, shown in the console and used to pick the right key. */
export function keyId(publicKeyB64: string): string {
  return keyIds.get(publicKeyB64, computeKeyId);
}

function computeKeyId(publicKeyB64: string): string {
  return createHash('sha256').update(Buffer.from(publicKeyB64, 'base64')).digest('hex').slice(0, 16);
}

/** SHA-256 in hex of a text, bytes, or bytes in parts (hashed in order, as if joined). */
export function sha256Hex(data: string | Uint8Array | readonly Uint8Array[]): string {
  if (typeof data === 'string' || data instanceof Uint8Array) return createHash('sha256').update(data).digest('hex');
  const hash = createHash('sha256');
  for (const part of data) hash.update(part);
  return hash.digest('hex');
}

export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/**
 * A random secret a person or a script will pass on a command line (passwords, enrollment tokens).
 * About 1 base64url string in 64 starts with `-`, which argument parsers take for an option, so
 * such draws are thrown away; the cost is a sixty-fourth of one character's entropy.
 */
export function randomSecret(bytes = 24): string {
  for (;;) {
    const secret = randomToken(bytes);
    if (!secret.startsWith('-')) return secret;
  }
}

/** PKCE's S256 transform (RFC 7636): base64url(SHA-256(verifier)). */
export function pkceS256(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url');
}
