import { readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ApplicationsSchema } from '../../src/shared/app-rules.js';
import { POLICY_LIMITS } from '../../src/shared/policy-limits.js';
import { groupsOf, hostnameMatches, membershipsOf } from '../../src/shared/policies/membership.js';
import { AssignmentSetSchema, DeviceGroupSchema, PolicyContentSchema, RuleRecordSchema } from '../../src/shared/policies/model.js';
import { matchKey, recordKey } from '../../src/shared/policies/rule-keys.js';
import { summariseZodError } from '../../src/shared/zod-errors.js';
import { AT, hashRule, hex, rec } from '../helpers/policy-model.js';

const TOKEN = '6f1c2a9e-8a55-4a8e-9b1e-0d6f3a1c2b7d';
const device = (over: Partial<{ id: string; hostname: string; enrollmentTokenId: string | null; ownership: 'school' | 'byod' | null }> = {}) => ({
  id: '3f1c2a9e-8a55-4a8e-9b1e-0d6f3a1c2b7d',
  hostname: 'LAB2-PC07',
  enrollmentTokenId: null,
  ownership: 'school' as const,
  ...over,
});

describe('device groups and membership rules', () => {
  const groups = [
    DeviceGroupSchema.parse({ name: 'lab-2', displayName: 'Lab 2', rules: [{ kind: 'hostname', pattern: 'lab2-*' }] }),
    DeviceGroupSchema.parse({ name: 'byod', displayName: 'Own devices', rules: [{ kind: 'ownership', ownership: 'byod' }] }),
    DeviceGroupSchema.parse({ name: 'year-7', displayName: 'Year 7', rules: [{ kind: 'enrollment-token', tokenId: TOKEN }] }),
    DeviceGroupSchema.parse({ name: 'staff', displayName: 'Staff', devices: ['3f1c2a9e-8a55-4a8e-9b1e-0d6f3a1c2b7d'] }),
    DeviceGroupSchema.parse({ name: 'music', displayName: 'Music' }),
  ];
  it('a device is in every group that lists it or whose rule matches it, with the reasons', () => {
    expect(groupsOf(device(), groups)).toEqual(['lab-2', 'staff']);
    expect(groupsOf(device({ hostname: 'office-1', ownership: 'byod', enrollmentTokenId: TOKEN, id: '00000000-0000-4000-8000-000000000001' }), groups)).toEqual(
      ['byod', 'year-7'],
    );
    expect(membershipsOf(device({ enrollmentTokenId: TOKEN }), groups)).toEqual([
      { group: 'lab-2', reasons: [{ kind: 'rule', rule: { kind: 'hostname', pattern: 'lab2-*' } }] },
      { group: 'staff', reasons: [{ kind: 'explicit' }] },
      { group: 'year-7', reasons: [{ kind: 'rule', rule: { kind: 'enrollment-token', tokenId: TOKEN } }] },
    ]);
  });
  it("an enrollment token's default groups count, and a default naming a deleted group is ignored", () => {
    const tokens = new Map([[TOKEN, ['music', 'gone']]]);
    expect(membershipsOf(device({ enrollmentTokenId: TOKEN, hostname: 'x' }), groups, tokens)).toEqual([
      { group: 'music', reasons: [{ kind: 'token-default', tokenId: TOKEN }] },
      { group: 'staff', reasons: [{ kind: 'explicit' }] },
      { group: 'year-7', reasons: [{ kind: 'rule', rule: { kind: 'enrollment-token', tokenId: TOKEN } }] },
    ]);
  });
  it('hostname patterns match the whole name, case-insensitively, with * and ?', () => {
    expect(hostnameMatches('lab2-*', 'LAB2-PC07')).toBe(true);
    expect(hostnameMatches('lab2-*', 'xlab2-pc07')).toBe(false);
    expect(hostnameMatches('lab?-pc*', 'lab3-pc1')).toBe(true);
    expect(hostnameMatches('lab?-pc*', 'lab33-pc1')).toBe(false);
    expect(hostnameMatches('*.year7.school', 'pc1.year7.school')).toBe(true);
    expect(hostnameMatches('*a*a*a*a*a*b', 'a'.repeat(200))).toBe(false);
  });
  it('refuses bad groups with clear errors', () => {
    expect(DeviceGroupSchema.safeParse({ name: 'Lab 2', displayName: 'x' }).success).toBe(false);
    const bad = DeviceGroupSchema.safeParse({ name: 'lab', displayName: 'Lab', rules: [{ kind: 'hostname', pattern: 'lab[0-9]' }] });
    expect(bad.success).toBe(false);
    expect(summariseZodError(bad.error!)).toContain('hostname patterns use letters');
    expect(
      DeviceGroupSchema.safeParse({
        name: 'lab',
        displayName: 'Lab',
        rules: Array(POLICY_LIMITS.membershipRules + 1).fill({ kind: 'ownership', ownership: 'byod' }),
      }).success,
    ).toBe(false);
  });
});

describe('named policies and rule records', () => {
  it('an exception needs a reason and an expiry; a regular rule may expire too', () => {
    expect(RuleRecordSchema.safeParse({ ...rec(hashRule(1)), exception: true }).success).toBe(false);
    expect(RuleRecordSchema.safeParse({ ...rec(hashRule(1)), exception: true, expiresAt: '2026-12-20T00:00:00Z' }).success).toBe(false);
    expect(RuleRecordSchema.safeParse({ ...rec(hashRule(1)), exception: true, expiresAt: '2026-12-20T00:00:00Z', reason: 'exam' }).success).toBe(true);
    expect(RuleRecordSchema.safeParse({ ...rec(hashRule(1)), expiresAt: '2026-12-20T00:00:00Z' }).success).toBe(true);
  });
  it('one record per rule key: the same rule twice is refused, naming the first', () => {
    const parsed = PolicyContentSchema.safeParse({ rules: [rec(hashRule(1, 'allow')), rec(hashRule(1, 'block'))] });
    expect(parsed.success).toBe(false);
    expect(summariseZodError(parsed.error!)).toContain(`rule sha256:${hex(1)} is already rule 0`);
    // An exception and a regular rule, or rules with different scopes, are different rules.
    expect(
      PolicyContentSchema.safeParse({
        rules: [rec(hashRule(1)), rec(hashRule(1, 'allow', { groups: ['lab'] })), rec(hashRule(1), { exception: true, reason: 'exam', expiresAt: AT })],
      }).success,
    ).toBe(true);
  });
  it("the policy's rule limit is one number, named in the error, for named policies and documents alike", () => {
    const over = Array.from({ length: POLICY_LIMITS.rules + 1 }, (_, i) => ({ kind: 'sha256', sha256: hex(i), action: 'allow' }));
    const asDocument = ApplicationsSchema.safeParse({ rules: over });
    expect(summariseZodError(asDocument.error!)).toContain("at most 200,000 rules (the policy's rule limit)");
    const records = over.map((rule) => ({ rule, author: 'a', addedAt: AT, origin: 'file' }));
    const asPolicy = PolicyContentSchema.safeParse({ rules: records });
    expect(summariseZodError(asPolicy.error!)).toContain("at most 200,000 rules (the policy's rule limit)");
  });
  it('rule keys name what a rule matches, and keep apart what must stay apart', () => {
    expect(matchKey({ kind: 'path', platform: 'posix', pattern: '/a', action: 'allow' })).toBe('path:["posix","/a"]');
    expect(matchKey({ kind: 'signer', teamId: 'EQHXZ8M8AV', action: 'allow' })).toBe('signer:[null,null,null,"EQHXZ8M8AV",null]');
    // A pattern that looks like a suffix cannot collide with a scope or an exception.
    const tricky = { rule: { kind: 'path' as const, platform: 'posix' as const, pattern: '/a"]#exception-allow', action: 'allow' as const }, exception: false };
    const real = { rule: { kind: 'path' as const, platform: 'posix' as const, pattern: '/a', action: 'allow' as const }, exception: true };
    expect(recordKey(tricky)).not.toBe(recordKey(real));
    expect(recordKey({ rule: { ...hashRule(1), groups: ['b', 'a'] } as never, exception: false })).toBe(
      recordKey({ rule: { ...hashRule(1), groups: ['a', 'b'] } as never, exception: false }),
    );
  });
});

describe('assignments', () => {
  it('precedences are unique and a policy is assigned to a group once', () => {
    expect(
      AssignmentSetSchema.safeParse({
        baseline: 'base',
        assignments: [
          { policy: 'a', group: 'lab', precedence: 5 },
          { policy: 'b', group: 'lab', precedence: 6 },
        ],
      }).success,
    ).toBe(true);
    const clash = AssignmentSetSchema.safeParse({
      baseline: 'base',
      assignments: [
        { policy: 'a', group: 'lab', precedence: 5 },
        { policy: 'b', group: 'y7', precedence: 5 },
      ],
    });
    expect(summariseZodError(clash.error!)).toContain('precedence 5 is already used');
    const twice = AssignmentSetSchema.safeParse({
      baseline: 'base',
      assignments: [
        { policy: 'a', group: 'lab', precedence: 5 },
        { policy: 'a', group: 'lab', precedence: 6 },
      ],
    });
    expect(summariseZodError(twice.error!)).toContain('policy a is already assigned to group lab');
  });
});

describe('browser safety', () => {
  /** Every module a file reaches through its imports, transitively. */
  function importsOf(file: string, seen = new Set<string>()): Set<string> {
    if (seen.has(file)) return seen;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    for (const [, spec] of text.matchAll(/^(?:import|export)[^'"]*from '([^']+)'/gm)) {
      if (spec!.startsWith('.')) importsOf(fileURLToPath(new URL(spec!.replace(/\.js$/, '.ts'), pathToFileURL(file))), seen);
      else seen.add(spec!);
    }
    return seen;
  }
  it('the model, merge, diff, membership and delivery formats reach nothing from Node', () => {
    for (const file of ['model', 'merge', 'diff', 'rule-keys', 'membership', 'from-document', 'delivery']) {
      const reached = [...importsOf(fileURLToPath(new URL(`../../src/shared/policies/${file}.ts`, import.meta.url)))];
      expect(
        reached.filter((m) => m.startsWith('node:') || /\/(crypto|signing|policy-verify)\.ts$/.test(m)),
        file,
      ).toEqual([]);
      expect(reached.length, file).toBeGreaterThan(1);
    }
  });
});
