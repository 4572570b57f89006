import type { KeyObject } from 'node:crypto';
import { canonicalJson, smallPartsMemo, type CanonicalMemo } from '../canonical-json.js';
import { keyId as keyIdOf, sha256Hex } from './crypto.js';
import { PolicyBundleSchema, type PolicyBundle, type PolicyBundlePayload } from '../policy.js';
import { joinBytes, joinBytesTransient } from './bytes.js';
import { signingInput, signingPrefix, signPayload, verifySigningInput } from './signing.js';
import { summariseZodError } from '../zod-errors.js';
import type { AppException, AppRule } from '../app-rules.js';
import { POLICY_LIMITS } from '../policy-limits.js';
import { keepListText, keptListText, payloadBytes, payloadListsOf, type PayloadLists } from './policy-text.js';

export function signPolicyBundle(payload: PolicyBundlePayload, privateKey: KeyObject | string, publicKey: string): PolicyBundle {
  return { payload, signature: signPayload('policy', payload, privateKey, publicKey) };
}

export type BundleRejection = 'malformed' | 'unknown-signer' | 'bad-signature' | 'rollback' | 'expired' | 'not-yet-valid';

export type BundleCheck = { ok: true; bundle: PolicyBundle } | { ok: false; reason: BundleRejection; detail: string; version?: number };

/** Clock skew tolerated on issuedAt, so a device a few minutes behind still takes a fresh bundle. */
const FUTURE_SKEW_MS = 10 * 60 * 1000;

/**
 * Everything a device checks before it lets a bundle replace the one it enforces.
 * `heldVersion` is the version currently enforced; equal versions are accepted (a resend after
 * reconnect) but lower ones are a rollback.
 */
export interface TrustOptions {
  trustedKey: string;
  heldVersion: number | null;
  now?: Date;
  checkTimes?: boolean;
}

export function checkPolicyBundle(candidate: unknown, opts: TrustOptions): BundleCheck {
  if (checkedBundles.has(candidate as PolicyBundle)) return checkTrust(candidate as PolicyBundle, opts);
  const parsed = PolicyBundleSchema.safeParse(candidate);
  if (!parsed.success) return malformed(candidate, summariseZodError(parsed.error));
  return checkParsed(parsed.data, opts);
}

/**
 * checkPolicyBundle for a bundle assembled from checked parts: a delta applied to the held bundle.
 * Its rule lists hold only records that already passed the schema (the held bundle's, and the
 * delta's additions, parsed with the delta), so 100,000 held rules are not parsed again: the rest
 * of the payload is, and the lists' limits are checked here. Signature, digest, times and
 * rollback exactly as for a whole bundle.
 */
export function checkAssembledBundle(
  assembled: { payload: unknown; signature: unknown },
  lists: { rules: readonly AppRule[]; exceptions: readonly AppException[] } | null,
  opts: TrustOptions,
  text?: PayloadLists,
): BundleCheck {
  if (lists && (lists.rules.length > POLICY_LIMITS.rules || lists.exceptions.length > POLICY_LIMITS.exceptions))
    return malformed(
      assembled,
      `the policy would hold ${lists.rules.length} rules and ${lists.exceptions.length} exceptions; the limits are ${POLICY_LIMITS.rules} and ${POLICY_LIMITS.exceptions}`,
    );
  const parsed = PolicyBundleSchema.safeParse(assembled);
  if (!parsed.success) return malformed(assembled, summariseZodError(parsed.error));
  const bundle = parsed.data;
  const apps = bundle.payload.policy.applications;
  if (lists && !apps) return malformed(assembled, 'rules for a policy without an applications section');
  if (lists && apps) {
    if (apps.rules.length > 0 || apps.exceptions.length > 0) return malformed(assembled, 'an assembled policy carries its rule lists apart');
    apps.rules = [...lists.rules];
    apps.exceptions = [...lists.exceptions];
  }
  return checkParsed(bundle, opts, text);
}

function malformed(candidate: unknown, detail: string): BundleCheck {
  const version = versionHint(candidate);
  return { ok: false, reason: 'malformed', detail, ...(version ? { version } : {}) };
}

/**
 * Bundles this process checked and handed out. Nobody mutates a checked bundle, so when one is
 * offered again (the agent's store takes what its fetcher just checked) the schema and signature
 * need no second pass over 100,000 rules; times and rollback are checked again, as they depend
 * on what is held now.
 */
const checkedBundles = new WeakSet<PolicyBundle>();

/**
 * `text`: the rule lists' signed text when the caller built it (a delta applied to the held
 * text); otherwise made here, and kept for the next delta.
 */
function checkParsed(bundle: PolicyBundle, opts: TrustOptions, text?: PayloadLists): BundleCheck {
  const { version } = bundle.payload;
  const apps = bundle.payload.policy.applications;
  // Not through ruleTexts: the lists' text is kept as bytes (keepListText), which is what deltas
  // read; memoising 100,000 rule texts too held them twice and made that memo huge.
  const lists = apps ? (text ?? payloadListsOf(apps)) : null;
  // One serialisation serves the signature check and the digest (100,000 rules take a while),
  // built with the signing prefix in front: one copy of the whole text.
  const prefix = signingPrefix('policy');
  const input = lists ? payloadBytes(bundle.payload, lists, prefix, joinBytesTransient) : signingInput('policy', bundle.payload, ruleTexts);
  // The payload's digest is checked against what was announced; the same hash serves the signature.
  const digest = sha256Hex(input.subarray(prefix.length));
  if (!verifySigningInput('policy', input, bundle.signature, opts.trustedKey, digest)) {
    const unknown = bundle.signature.keyId !== keyIdOf(opts.trustedKey);
    return unknown
      ? { ok: false, reason: 'unknown-signer', detail: `signed by key ${bundle.signature.keyId}, not the console key`, version }
      : { ok: false, reason: 'bad-signature', detail: 'signature does not match the bundle contents', version };
  }
  const trusted = checkTrust(bundle, opts);
  if (!trusted.ok) return trusted;
  digests.set(bundle.payload, digest);
  if (lists) keepListText(bundle.payload, lists);
  checkedBundles.add(bundle);
  return trusted;
}

/** Times and rollback: what depends on the clock and on the version held now. */
function checkTrust(bundle: PolicyBundle, opts: TrustOptions): BundleCheck {
  const { version } = bundle.payload;
  // checkTimes: false skips the times only (a stored bundle reloaded offline); never the rollback check.
  const now = (opts.now ?? new Date()).getTime();
  if (opts.checkTimes !== false && Date.parse(bundle.payload.expiresAt) <= now) {
    return { ok: false, reason: 'expired', detail: `bundle expired at ${bundle.payload.expiresAt}`, version };
  }
  if (opts.checkTimes !== false && Date.parse(bundle.payload.issuedAt) > now + FUTURE_SKEW_MS) {
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

const digests = new WeakMap<PolicyBundlePayload, string>();

/**
 * A checked bundle as JSON for the device's disk (`{"payload":…,"signature":…}`): from the signed
 * text kept since the check when there is one, rather than serialising 100,000 rules again.
 */
export function bundleFileBytes(bundle: PolicyBundle): Buffer {
  const apps = bundle.payload.policy.applications;
  const lists = apps && keptListText(bundle.payload);
  if (!lists) return Buffer.from(canonicalJson({ payload: bundle.payload, signature: bundle.signature }, ruleTexts), 'utf8');
  return payloadBytes(bundle.payload, lists, Buffer.from('{"payload":', 'utf8'), (chunks) =>
    joinBytes([...chunks, Buffer.from(`,"signature":${canonicalJson(bundle.signature)}}`, 'utf8')]),
  );
}

/**
 * Canonical texts of the parts of checked bundles, which nobody mutates. A held list's text is
 * kept as bytes (policy-text.ts), so this serves what is not: a delta's additions, and a held
 * list that is not in canonical order (a delta then re-sorts and re-serialises its rules).
 */
export const ruleTexts: CanonicalMemo = smallPartsMemo();

/**
 * Identifies a bundle's content: two bundles with one version but different digests conflict.
 * The console compares it at every agent's hello against the same (kept) bundle, and a bundle
 * with thousands of rules is large, so each payload object is hashed once.
 */
export function policyDigest(payload: PolicyBundlePayload): string {
  let digest = digests.get(payload);
  if (digest === undefined) {
    digest = sha256Hex(canonicalJson(payload, ruleTexts));
    digests.set(payload, digest);
  }
  return digest;
}
