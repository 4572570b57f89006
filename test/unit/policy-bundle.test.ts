import { describe, expect, it } from 'vitest';
import { generateEd25519KeyPair } from '../../src/shared/node/crypto.js';
import { canonicalJson } from '../../src/shared/canonical-json.js';
import { canonicalSet } from '../../src/shared/canonical-order.js';
import { keptListText } from '../../src/shared/node/policy-text.js';
import { checkPolicyBundle, ruleTexts, signPolicyBundle } from '../../src/shared/node/policy-verify.js';
import type { AppRule } from '../../src/shared/app-rules.js';
import type { PolicyBundlePayload } from '../../src/shared/policy.js';

const consoleKey = generateEd25519KeyPair();
const otherKey = generateEd25519KeyPair();
const now = new Date('2026-11-22T12:00:00Z');

function payload(version: number, overrides: Partial<PolicyBundlePayload> = {}): PolicyBundlePayload {
  return {
    kind: 'vigil.policy-bundle',
    version,
    issuedAt: '2026-11-22T11:00:00.000Z',
    expiresAt: '2026-12-22T11:00:00.000Z',
    policy: { format: 'vigil-policy/1', name: 'Test', agent: { heartbeatSeconds: 30, statusSeconds: 60 } },
    ...overrides,
  };
}
const sign = (p: PolicyBundlePayload, key = consoleKey) => signPolicyBundle(p, key.privateKeyPem, key.publicKey);
const check = (bundle: unknown, heldVersion: number | null = 5) => checkPolicyBundle(bundle, { trustedKey: consoleKey.publicKey, heldVersion, now });

describe('policy bundle verification', () => {
  it('accepts a fresh, newer bundle signed by the console key', () => {
    expect(check(sign(payload(6)))).toMatchObject({ ok: true });
    expect(check(sign(payload(5)))).toMatchObject({ ok: true }); // re-delivery of the held version
  });
  it("keeps a checked bundle's rule lists once, as the signed bytes, not also as memoised texts", () => {
    const rules = canonicalSet<AppRule>(['a', 'b', 'c'].map((c) => ({ kind: 'sha256', sha256: c.repeat(64), action: 'allow' }))).items;
    const signed = sign(payload(6, { policy: { ...payload(6).policy, applications: { mode: 'enforce', defaultAction: 'block', rules, exceptions: [] } } }));
    // As a device gets it: parsed from bytes, objects nobody serialised before.
    const received = JSON.parse(JSON.stringify(signed)) as typeof signed;
    const checked = check(received);
    expect(checked).toMatchObject({ ok: true });
    const held = checked.ok ? checked.bundle : null;
    expect(keptListText(held!.payload)?.rules.bytes.toString('utf8')).toBe(canonicalJson(rules));
    for (const rule of held!.payload.policy.applications!.rules) expect(ruleTexts.get(rule)).toBeUndefined();
  });
  it('rejects a tampered bundle', () => {
    const bundle = sign(payload(6));
    bundle.payload.policy.name = 'Tampered';
    expect(check(bundle)).toMatchObject({ ok: false, reason: 'bad-signature', version: 6 });
  });
  it('rejects a bundle signed by another key', () => {
    expect(check(sign(payload(6), otherKey))).toMatchObject({ ok: false, reason: 'unknown-signer' });
  });
  it('rejects another key claiming the console key id', () => {
    const forged = sign(payload(6), otherKey);
    forged.signature.keyId = sign(payload(6)).signature.keyId;
    expect(check(forged)).toMatchObject({ ok: false, reason: 'bad-signature' });
  });
  it('rejects an older version (rollback)', () => {
    expect(check(sign(payload(4)))).toMatchObject({ ok: false, reason: 'rollback', version: 4 });
  });
  it('rejects an expired bundle and one issued far in the future', () => {
    expect(check(sign(payload(6, { expiresAt: '2026-11-22T11:59:59.000Z' })))).toMatchObject({ ok: false, reason: 'expired' });
    expect(check(sign(payload(6, { issuedAt: '2026-11-22T13:00:00.000Z' })))).toMatchObject({ ok: false, reason: 'not-yet-valid' });
  });
  it('rejects malformed bundles with a readable reason', () => {
    for (const bad of [null, 'x', {}, { payload: payload(6) }, { ...sign(payload(6)), extra: 1 }]) {
      const result = check(bad);
      expect(result.ok).toBe(false);
      if (!result.ok) {
        expect(result.reason).toBe('malformed');
        expect(result.detail.length).toBeGreaterThan(3);
      }
    }
  });
  it('rejects a policy document with unknown keys so a typo never turns a control off', () => {
    const p = payload(6) as any;
    p.policy.agnet = {};
    expect(check(sign(p))).toMatchObject({ ok: false, reason: 'malformed' });
  });
});
