import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parsePolicyDocument, PolicyDocumentSchema } from '../../src/shared/policy.js';
import { POLICY_LIMITS } from '../../src/shared/policy-limits.js';

/** A pushed document checked in slices gives what checking it whole gives: data, or every issue with its path. */
const hashRules = (n: number) => {
  const hex = randomBytes(32 * n).toString('hex');
  return Array.from({ length: n }, (_, i): Record<string, unknown> => ({ kind: 'sha256', sha256: hex.slice(64 * i, 64 * i + 64), action: 'allow' }));
};
const document = (rules: unknown[], extra: Record<string, unknown> = {}) => ({
  format: 'vigil-policy/1',
  name: 'lab',
  applications: { mode: 'enforce', defaultAction: 'block', rules },
  ...extra,
});
const issuesOf = (result: { success: boolean; error?: { issues: { path: PropertyKey[]; message: string; code: string }[] } }) =>
  (result.error?.issues ?? []).map((i) => `${i.path.join('.')} ${i.code} ${i.message}`).sort();

describe('a large pushed document, checked in slices', () => {
  it('gives the same data as checking it whole, pausing after every 10,000 rules', async () => {
    const raw = document(hashRules(25_000), { session: { lockAfterIdleSeconds: 600 } });
    let pauses = 0;
    const sliced = await parsePolicyDocument(raw, async () => void pauses++);
    const whole = PolicyDocumentSchema.safeParse(raw);
    expect(whole.success).toBe(true);
    expect(sliced).toEqual(whole);
    expect(pauses).toBe(3);
  });

  it('reports every issue, with its path, as checking it whole does: in the rules and around them', async () => {
    const rules = hashRules(25_000);
    rules[12_345] = { kind: 'sha256', sha256: 'not-hex', action: 'allow' };
    rules[24_999] = { ...rules[24_999], action: 'maybe' };
    rules[3] = { ...rules[3], extra: true };
    const raw = document(rules, { surprise: 1 });
    const sliced = await parsePolicyDocument(raw, async () => undefined);
    const whole = PolicyDocumentSchema.safeParse(raw);
    expect(sliced.success).toBe(false);
    expect(issuesOf(sliced)).toEqual(issuesOf(whole));
    expect(issuesOf(sliced).some((i) => i.startsWith('applications.rules.12345.sha256 '))).toBe(true);
    expect(issuesOf(sliced).some((i) => i.startsWith('applications.rules.24999.action '))).toBe(true);
  });

  it('checks small documents, documents past the rule limit and documents that are not objects whole', async () => {
    for (const raw of [document(hashRules(10)), document(hashRules(POLICY_LIMITS.rules + 1)), null, 'text', { applications: { rules: 'none' } }]) {
      let pauses = 0;
      const sliced = await parsePolicyDocument(raw, async () => void pauses++);
      expect(sliced).toEqual(PolicyDocumentSchema.safeParse(raw));
      expect(pauses).toBe(0);
    }
  });
});
