import { z } from 'zod';

/**
 * Signature envelope schemas (browser-safe). Signing and verification live in signing.ts.
 *
 * Every signature in Vigil is over `vigil:<purpose>:v1\n` + canonical JSON. The purpose prefix
 * keeps a signature made for one thing (say an auth challenge) from being replayed as another
 * (say a policy bundle).
 */
export const SIGNING_PURPOSES = [
  'policy',
  'enroll',
  'device-auth',
  'console-auth',
  'command',
  'aup',
  'aup-receipt',
  'scan-flag',
  'uninstall',
  'station-report',
  'policy-fetch',
] as const;
export type SigningPurpose = (typeof SIGNING_PURPOSES)[number];

export const Base64Signature = z.string().regex(/^[A-Za-z0-9+/]{86}==$/, 'not a base64 Ed25519 signature');
export const Base64PublicKey = z.string().regex(/^[A-Za-z0-9+/]{43}=$/, 'not a base64 Ed25519 public key');
export const KeyIdSchema = z.string().regex(/^[0-9a-f]{16}$/, 'not a key id');

/**
 * `ed25519`: over `vigil:<purpose>:v1\n` + canonical JSON. `ed25519-sha256`: over
 * `vigil:<purpose>:v1:sha256\n` + the hex SHA-256 of the canonical JSON (signing.ts), for
 * payloads of megabytes: a 100,000-rule policy is 11 MB, which the signer and every device hash
 * once with SHA-256 for its digest anyway, instead of twice more inside Ed25519 (SHA-512). The
 * two inputs start differently, so a signature of one kind never verifies as the other.
 */
export const SIGNATURE_ALGORITHMS = ['ed25519', 'ed25519-sha256'] as const;

export const SignatureSchema = z.strictObject({
  alg: z.enum(SIGNATURE_ALGORITHMS),
  keyId: KeyIdSchema,
  value: Base64Signature,
});
export type Signature = z.infer<typeof SignatureSchema>;
