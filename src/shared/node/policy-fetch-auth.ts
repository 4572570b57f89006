import { z } from 'zod';
import type { KeyObject } from 'node:crypto';
import { keyId } from './crypto.js';
import { signPayload, verifyPayload } from './signing.js';
import { Base64Signature } from '../signed.js';
import { IsoDateTime, UuidSchema } from '../text.js';

/**
 * Device authentication for the policy fetch over HTTP(S) (Node; both ends). The agent signs the
 * path it asks for and the time with its device key (purpose `policy-fetch`, so the signature is
 * worth nothing anywhere else); the console checks the signature against the enrolled key, the
 * path against the request and the time against its clock. A captured header can only fetch the
 * same path for a few minutes, and the console serves a device only bundles meant for it.
 */
export const POLICY_FETCH_SCHEME = 'Vigil-Device';
export const FETCH_AUTH_SKEW_MS = 5 * 60 * 1000;

export const PolicyFetchAuthSchema = z.strictObject({
  kind: z.literal('vigil.policy-fetch'),
  deviceId: UuidSchema,
  path: z.string().startsWith('/').max(512),
  at: IsoDateTime,
});
export type PolicyFetchAuth = z.infer<typeof PolicyFetchAuthSchema>;

export function policyFetchHeader(deviceId: string, path: string, key: { privateKey: KeyObject | string; publicKey: string }, now = new Date()): string {
  const payload: PolicyFetchAuth = { kind: 'vigil.policy-fetch', deviceId, path, at: now.toISOString() };
  const signature = signPayload('policy-fetch', payload, key.privateKey, key.publicKey);
  return `${POLICY_FETCH_SCHEME} ${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${signature.value}`;
}

export type FetchAuthCheck = { ok: true; deviceId: string } | { ok: false; detail: string };

/** `publicKeyOf` answers null for a device that is unknown or revoked. */
export async function checkPolicyFetchHeader(
  header: string | undefined,
  requestPath: string,
  publicKeyOf: (deviceId: string) => Promise<string | null> | string | null,
  now = new Date(),
): Promise<FetchAuthCheck> {
  const match = /^Vigil-Device ([A-Za-z0-9_-]{1,2048})\.([A-Za-z0-9+/=]{88})$/.exec(header ?? '');
  if (!match) return { ok: false, detail: `missing or malformed ${POLICY_FETCH_SCHEME} authorization` };
  let claimed: unknown;
  try {
    claimed = JSON.parse(Buffer.from(match[1]!, 'base64url').toString('utf8'));
  } catch {
    return { ok: false, detail: 'authorization payload is not JSON' };
  }
  const parsed = PolicyFetchAuthSchema.safeParse(claimed);
  const signature = Base64Signature.safeParse(match[2]);
  if (!parsed.success || !signature.success) return { ok: false, detail: 'authorization payload malformed' };
  const auth = parsed.data;
  if (auth.path !== requestPath) return { ok: false, detail: 'authorization is for another path' };
  if (Math.abs(Date.parse(auth.at) - now.getTime()) > FETCH_AUTH_SKEW_MS) return { ok: false, detail: 'authorization is too old or from the future' };
  const publicKey = await publicKeyOf(auth.deviceId);
  if (!publicKey) return { ok: false, detail: 'unknown or revoked device' };
  const ok = verifyPayload('policy-fetch', auth, { alg: 'ed25519', keyId: keyId(publicKey), value: signature.data }, publicKey);
  return ok ? { ok: true, deviceId: auth.deviceId } : { ok: false, detail: 'bad signature' };
}
