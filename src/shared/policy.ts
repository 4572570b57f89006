import { z } from 'zod';
import { keyId as keyIdOf } from './crypto.js';
import { SignatureSchema, signPayload, verifyPayload } from './signed.js';
import type { KeyObject } from 'node:crypto';

/**
 * The policy document a Systems Manager writes (policies/*.json). It says nothing about
 * versions or signatures: the console adds those when it publishes it.
 * Later capabilities add their own sections; unknown keys are rejected so a typo never
 * silently turns a control off.
 */
export const PolicyDocumentSchema = z.strictObject({
  format: z.literal('vigil-policy/1'),
  name: z.string().min(1).max(120),
  description: z.string().max(2000).optional(),
  agent: z
    .strictObject({
      heartbeatSeconds: z.number().int().min(5).max(3600).default(30),
      statusSeconds: z.number().int().min(10).max(86400).default(60),
    })
    .default({ heartbeatSeconds: 30, statusSeconds: 60 }),
});
export type PolicyDocument = z.infer<typeof PolicyDocumentSchema>;

export const PolicyBundlePayloadSchema = z.strictObject({
  kind: z.literal('vigil.policy-bundle'),
  /** Console-wide monotonic counter: a device never accepts a version lower than it holds. */
  version: z.number().int().positive(),
  issuedAt: z.iso.datetime(),
  expiresAt: z.iso.datetime(),
  policy: PolicyDocumentSchema,
});
export type PolicyBundlePayload = z.infer<typeof PolicyBundlePayloadSchema>;

export const PolicyBundleSchema = z.strictObject({
  payload: PolicyBundlePayloadSchema,
  signature: SignatureSchema,
});
export type PolicyBundle = z.infer<typeof PolicyBundleSchema>;

export function signPolicyBundle(
  payload: PolicyBundlePayload,
  privateKey: KeyObject | string,
  publicKey: string,
): PolicyBundle {
  return { payload, signature: signPayload('policy', payload, privateKey, publicKey) };
}

export type BundleRejection =
  | 'malformed'
  | 'unknown-signer'
  | 'bad-signature'
  | 'rollback'
  | 'expired'
  | 'not-yet-valid';

export type BundleCheck =
  | { ok: true; bundle: PolicyBundle }
  | { ok: false; reason: BundleRejection; detail: string; version?: number };

/** Clock skew tolerated on issuedAt, so a device a few minutes behind still takes a fresh bundle. */
const FUTURE_SKEW_MS = 10 * 60 * 1000;

/**
 * Everything a device checks before it lets a bundle replace the one it enforces.
 * `heldVersion` is the version currently enforced; equal versions are accepted (a resend after
 * reconnect) but lower ones are a rollback.
 */
export function checkPolicyBundle(
  candidate: unknown,
  opts: { trustedKey: string; heldVersion: number | null; now?: Date },
): BundleCheck {
  const parsed = PolicyBundleSchema.safeParse(candidate);
  if (!parsed.success) {
    const version = versionHint(candidate);
    return { ok: false, reason: 'malformed', detail: summariseZodError(parsed.error), ...(version ? { version } : {}) };
  }
  const bundle = parsed.data;
  const { version } = bundle.payload;
  if (!verifyPayload('policy', bundle.payload, bundle.signature, opts.trustedKey)) {
    const unknown = bundle.signature.keyId !== keyIdOf(opts.trustedKey);
    return unknown
      ? { ok: false, reason: 'unknown-signer', detail: `signed by key ${bundle.signature.keyId}, not the console key`, version }
      : { ok: false, reason: 'bad-signature', detail: 'signature does not match the bundle contents', version };
  }
  const now = (opts.now ?? new Date()).getTime();
  if (Date.parse(bundle.payload.expiresAt) <= now) {
    return { ok: false, reason: 'expired', detail: `bundle expired at ${bundle.payload.expiresAt}`, version };
  }
  if (Date.parse(bundle.payload.issuedAt) > now + FUTURE_SKEW_MS) {
    return { ok: false, reason: 'not-yet-valid', detail: `bundle issued in the future (${bundle.payload.issuedAt})`, version };
  }
  if (opts.heldVersion !== null && version < opts.heldVersion) {
    return { ok: false, reason: 'rollback', detail: `version ${version} is older than held version ${opts.heldVersion}`, version };
  }
  return { ok: true, bundle };
}

function versionHint(candidate: unknown): number | undefined {
  const v = (candidate as { payload?: { version?: unknown } } | null)?.payload?.version;
  return typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? v : undefined;
}

export function summariseZodError(error: z.ZodError): string {
  const first = error.issues.slice(0, 3).map((issue) => {
    const path = issue.path.length ? issue.path.join('.') : '(root)';
    return `${path}: ${issue.message}`;
  });
  const more = error.issues.length > 3 ? ` (+${error.issues.length - 3} more)` : '';
  return first.join('; ') + more;
}
