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

export const SignatureSchema = z.strictObject({
  alg: z.literal('ed25519'),
  keyId: KeyIdSchema,
  value: Base64Signature,
});
export type Signature = z.infer<typeof SignatureSchema>;
