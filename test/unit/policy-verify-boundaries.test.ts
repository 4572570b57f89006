import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/shared/canonical-json.js';
import { generateEd25519KeyPair, keyId, sha256Hex } from '../../src/shared/node/crypto.js';
import { checkPolicyBundle, policyDigest, signPolicyBundle } from '../../src/shared/node/policy-verify.js';
import type { PolicyBundlePayload } from '../../src/shared/policy.js';

/**
 * Policy bundle checks at their edges, asserting `ok` (what the policy store acts on) as well as
 * the reason: each case was a mutation that let a bundle through unnoticed (issue 19).
 */
const consoleKey = generateEd25519KeyPair();
const otherKey = generateEd25519KeyPair();
const ISSUED = '2026-11-22T11:00:00.000Z';
const EXPIRES = '2026-12-22T11:00:00.000Z';
const MINUTE = 60_000;

function payload(version: number, overrides: Partial<PolicyBundlePayload> = {}): PolicyBundlePayload {
  return {
    kind: 'vigil.policy-bundle',
    version,
    issuedAt: ISSUED,
    expiresAt: EXPIRES,
    policy: { format: 'vigil-policy/1', name: 'Test', agent: { heartbeatSeconds: 30, statusSeconds: 60 } },
    ...overrides,
  };
}
const sign = (p: PolicyBundlePayload, key = consoleKey) => signPolicyBundle(p, key.privateKeyPem, key.publicKey);
const at = (iso: string, deltaMs = 0) => new Date(Date.parse(iso) + deltaMs);
const check = (bundle: unknown, now: Date, heldVersion: number | null = 5, checkTimes?: boolean) =>
  checkPolicyBundle(bundle, { trustedKey: consoleKey.publicKey, heldVersion, now, ...(checkTimes === undefined ? {} : { checkTimes }) });

describe('policy bundle verification at its edges', () => {
  it('refuses a bundle at the very millisecond it expires, and takes it one millisecond before', () => {
    const bundle = sign(payload(6));
    expect(check(bundle, at(EXPIRES, -1))).toMatchObject({ ok: true });
    expect(check(bundle, at(EXPIRES))).toEqual({ ok: false, reason: 'expired', detail: `bundle expired at ${EXPIRES}`, version: 6 });
  });

  it('takes a bundle issued up to ten minutes in the future, and refuses it one millisecond further', () => {
    const bundle = sign(payload(6));
    expect(check(bundle, at(ISSUED, -10 * MINUTE))).toMatchObject({ ok: true });
    expect(check(bundle, at(ISSUED, -10 * MINUTE - 1))).toEqual({
      ok: false,
      reason: 'not-yet-valid',
      detail: `bundle issued in the future (${ISSUED})`,
      version: 6,
    });
  });

  it('accepts the held version again and any newer one, refuses one lower, and takes anything when nothing is held', () => {
    const now = at(ISSUED, MINUTE);
    expect(check(sign(payload(5)), now, 5)).toMatchObject({ ok: true });
    expect(check(sign(payload(6)), now, 5)).toMatchObject({ ok: true });
    expect(check(sign(payload(4)), now, 5)).toEqual({ ok: false, reason: 'rollback', detail: 'version 4 is older than held version 5', version: 4 });
    expect(check(sign(payload(1)), now, null)).toMatchObject({ ok: true });
  });

  it('with checkTimes false takes an expired or future bundle, but still refuses a forged one and a rollback', () => {
    const expired = sign(payload(6));
    expect(check(expired, at(EXPIRES, 1), 5, false)).toMatchObject({ ok: true, bundle: expired });
    expect(check(sign(payload(6)), at(ISSUED, -60 * MINUTE), 5, false)).toMatchObject({ ok: true });
    const tampered = sign(payload(6));
    tampered.payload.policy.name = 'Tampered';
    expect(check(tampered, at(ISSUED, MINUTE), 5, false)).toMatchObject({ ok: false, reason: 'bad-signature' });
    expect(check(sign(payload(4)), at(ISSUED, MINUTE), 5, false)).toMatchObject({ ok: false, reason: 'rollback' });
    // Times are checked unless switched off explicitly.
    expect(check(expired, at(EXPIRES, 1), 5, true)).toMatchObject({ ok: false, reason: 'expired' });
  });

  it('checks times against the clock when no time is given', () => {
    const stale = sign(payload(6, { issuedAt: new Date(Date.now() - 60 * MINUTE).toISOString(), expiresAt: new Date(Date.now() - MINUTE).toISOString() }));
    expect(checkPolicyBundle(stale, { trustedKey: consoleKey.publicKey, heldVersion: null })).toMatchObject({ ok: false, reason: 'expired' });
    const fresh = sign(payload(6, { issuedAt: new Date(Date.now() - MINUTE).toISOString(), expiresAt: new Date(Date.now() + 60 * MINUTE).toISOString() }));
    expect(checkPolicyBundle(fresh, { trustedKey: consoleKey.publicKey, heldVersion: null })).toMatchObject({ ok: true });
  });

  it('tells an unknown signer from a bad signature, with the signer named', () => {
    const now = at(ISSUED, MINUTE);
    expect(check(sign(payload(6), otherKey), now)).toEqual({
      ok: false,
      reason: 'unknown-signer',
      detail: `signed by key ${keyId(otherKey.publicKey)}, not the console key`,
      version: 6,
    });
    const tampered = sign(payload(6));
    tampered.payload.version = 7;
    expect(check(tampered, now)).toEqual({ ok: false, reason: 'bad-signature', detail: 'signature does not match the bundle contents', version: 7 });
  });

  it('names the version of a malformed bundle only when it is a positive safe integer', () => {
    const now = at(ISSUED, MINUTE);
    const bad = (version: unknown) => ({ payload: { ...payload(6), version, extra: true }, signature: sign(payload(6)).signature });
    const malformed = check(bad(8), now);
    expect(malformed).toMatchObject({ ok: false, reason: 'malformed', version: 8 });
    expect(malformed.ok === false && malformed.detail.length).toBeGreaterThan(3);
    for (const version of [0, -3, 1.5, 2 ** 53, '8', null]) {
      const result = check(bad(version), now);
      expect(result, String(version)).toMatchObject({ ok: false, reason: 'malformed' });
      expect(result, String(version)).not.toHaveProperty('version');
    }
    expect(check(null, now)).not.toHaveProperty('version');
  });
});

describe('policy digest', () => {
  it('is the SHA-256 of the canonical JSON, equal for equal content and different for different content', () => {
    const a = payload(6);
    expect(policyDigest(a)).toBe(sha256Hex(canonicalJson(a)));
    expect(policyDigest(payload(6))).toBe(policyDigest(a));
    expect(policyDigest(payload(7))).not.toBe(policyDigest(a));
  });

  it('hashes each payload object once (bundles are immutable once signed)', () => {
    const p = payload(6);
    const first = policyDigest(p);
    p.version = 99;
    expect(policyDigest(p)).toBe(first);
  });
});
