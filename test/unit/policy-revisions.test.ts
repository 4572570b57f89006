import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ruleSetDecider } from '../../src/agent/exec/decision.js';
import { compileApplications, groupsOf as legacyGroupsOf } from '../../src/agent/exec/rule-set.js';
import { PolicyDocumentSchema, type PolicyDocument } from '../../src/shared/policy.js';
import { diffPolicyContent, isEmptyDiff, planPush } from '../../src/shared/policies/diff.js';
import {
  addRule,
  approvalRecord,
  groupReferences,
  nextRevision,
  PolicyEditError,
  removeRule,
  renameGroupEverywhere,
  rollbackRevision,
} from '../../src/shared/policies/edits.js';
import { contentFromDocument, migrateSinglePolicy } from '../../src/shared/policies/from-document.js';
import { groupsOf } from '../../src/shared/policies/membership.js';
import { mergeEffectivePolicy } from '../../src/shared/policies/merge.js';
import { PolicyContentSchema } from '../../src/shared/policies/model.js';
import { POLICY_LIMITS } from '../../src/shared/policy-limits.js';
import { AT, content, hashRule, hex, rec } from '../helpers/policy-model.js';

describe('revision diff', () => {
  const before = content([rec(hashRule(1)), rec(hashRule(2), { description: 'old' } as never), rec(hashRule(3, 'block'))], {
    aup: { variant: 'primary' },
    applications: { mode: 'monitor' },
  });
  it('lists rules added, removed and changed (with the fields), and settings changed', () => {
    const after = content([rec(hashRule(1)), rec(hashRule(2, 'allow', { description: 'new' })), rec(hashRule(3, 'allow')), rec(hashRule(4))], {
      aup: { variant: 'secondary' },
      applications: { mode: 'monitor', defaultAction: 'block' },
    });
    const diff = diffPolicyContent(before, after);
    expect(diff.rules.added.map((r) => r.rule)).toEqual([{ kind: 'sha256', sha256: hex(4), action: 'allow' }]);
    expect(diff.rules.removed).toEqual([]);
    expect(diff.rules.changed.map((c) => [c.key, c.fields])).toEqual([
      [`sha256:${hex(2)}`, ['description']],
      [`sha256:${hex(3)}`, ['action']],
    ]);
    expect(diff.settings).toEqual([
      { setting: 'aup', before: { variant: 'primary' }, after: { variant: 'secondary' } },
      { setting: 'applications.defaultAction', before: undefined, after: 'block' },
    ]);
    expect(diffPolicyContent(after, before).rules.removed.map((r) => r.rule.kind === 'sha256' && r.rule.sha256)).toEqual([hex(4)]);
  });
  it('who added a rule and when is not a change; the same content is an empty diff', () => {
    const again = content(
      before.rules.map((r) => ({ ...r, author: 'someone else', addedAt: '2027-01-01T00:00:00Z' })),
      before.settings,
    );
    expect(isEmptyDiff(diffPolicyContent(before, again))).toBe(true);
  });
});

describe('file push onto a named policy', () => {
  const approval = rec(hashRule(7), { origin: 'approval', author: 'sm@school', reason: 'Scratch for year 7', requestId: 'req-1' });
  const consoleRule = rec(hashRule(8, 'block'), { origin: 'console', author: 'sm@school', reason: 'game' });
  const current = content([rec(hashRule(1)), approval, consoleRule]);
  const file = content([rec(hashRule(1)), rec(hashRule(2))]);

  it('is refused when it would drop console-added rules, naming each', () => {
    const plan = planPush(current, file, 'refuse');
    expect(plan.ok).toBe(false);
    expect(plan.ok === false && plan.dropped.map((r) => [r.origin, r.rule.kind === 'sha256' && r.rule.sha256])).toEqual([
      ['approval', hex(7)],
      ['console', hex(8)],
    ]);
  });
  it('is refused when it would change a console-added rule', () => {
    const plan = planPush(current, content([rec(hashRule(1)), rec(hashRule(7, 'block')), rec(hashRule(8, 'block'))]), 'refuse');
    expect(plan.ok === false && plan.overridden.map((c) => [c.key, c.fields])).toEqual([[`sha256:${hex(7)}`, ['action', 'reason']]]);
  });
  it('keeps console rules when asked, and an approval survives the push', () => {
    const plan = planPush(current, file, 'keep-console-rules');
    expect(plan.ok).toBe(true);
    const kept = plan.ok ? plan.content.rules : [];
    expect(kept).toContainEqual(approval);
    expect(kept).toContainEqual(consoleRule);
    expect(kept.filter((r) => r.origin === 'file').map((r) => r.rule.kind === 'sha256' && r.rule.sha256)).toEqual([hex(1), hex(2)]);
    // A second push of the same file is then a no-op, not a new refusal.
    const again = planPush(plan.ok ? plan.content : current, file, 'refuse');
    expect(again.ok).toBe(false); // the file still lacks the console rules: the default stays safe
    expect(planPush(plan.ok ? plan.content : current, file, 'keep-console-rules')).toMatchObject({
      ok: true,
      diff: { rules: { added: [], removed: [], changed: [] } },
    });
  });
  it('a file that repeats a console rule keeps it a console rule', () => {
    const plan = planPush(current, content([rec(hashRule(1)), rec(hashRule(7)), rec(hashRule(8, 'block'))]), 'refuse');
    expect(plan.ok).toBe(true);
    expect(plan.ok && plan.content.rules.find((r) => r.rule.kind === 'sha256' && r.rule.sha256 === hex(7))).toEqual(approval);
  });
  it('replaces everything only when the push says so', () => {
    const plan = planPush(current, file, 'replace');
    expect(plan.ok && plan.diff.rules.removed.length).toBe(2);
  });
});

describe('migration from the single policy document', () => {
  const doc: PolicyDocument = PolicyDocumentSchema.parse({
    format: 'vigil-policy/1',
    name: 'Hillside',
    groups: { 'year-7': ['3f1c2a9e-8a55-4a8e-9b1e-0d6f3a1c2b7d'], lab: [] },
    aup: { variant: 'secondary' },
    applications: {
      mode: 'enforce',
      defaultAction: 'block',
      rules: [hashRule(1), hashRule(2, 'block', { groups: ['year-7'] }), hashRule(1, 'block'), { kind: 'path', pattern: '/opt/**', action: 'allow' }],
      exceptions: [{ rule: hashRule(3), reason: 'mock exams', expiresAt: '2026-12-20T00:00:00Z' }],
    },
  });
  it('the document becomes the baseline and its groups console groups with the same devices', () => {
    const migrated = migrateSinglePolicy(doc, AT);
    expect(migrated.baseline.displayName).toBe('Hillside');
    expect(migrated.groups.map((g) => [g.name, g.devices])).toEqual([
      ['year-7', ['3f1c2a9e-8a55-4a8e-9b1e-0d6f3a1c2b7d']],
      ['lab', []],
    ]);
    expect(PolicyContentSchema.safeParse(migrated.baseline.content).success).toBe(true);
    expect(migrated.baseline.content.settings).toMatchObject({ aup: { variant: 'secondary' }, applications: { mode: 'enforce', defaultAction: 'block' } });
    // The conflicting pair (allow and block of one hash) is kept as the block the device enforced.
    expect(migrated.notes).toEqual([`rule sha256:${hex(1)} appears more than once; kept the block rule`]);
  });

  it("every device decides every program as it did before the upgrade (property, with the agent's own decision code)", () => {
    const GROUPS = ['g1', 'g2', 'g3'];
    const DEVICES = ['00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-000000000002', '00000000-0000-4000-8000-000000000003'];
    const PATHS = ['/opt/a', '/home/p/game', '/usr/bin/x'];
    const arbRule = fc
      .record({
        target: fc.oneof(
          fc.integer({ min: 1, max: 5 }).map((n) => ({ kind: 'sha256' as const, sha256: hex(n) })),
          fc.constantFrom('/opt/**', '/home/*/game', '/usr/bin/*').map((pattern) => ({ kind: 'path' as const, platform: 'posix' as const, pattern })),
        ),
        action: fc.constantFrom('allow' as const, 'block' as const),
        scope: fc.option(fc.subarray(GROUPS, { minLength: 1 }), { nil: undefined }),
      })
      .map(({ target, action, scope }) => ({ ...target, action, ...(scope ? { groups: scope } : {}) }));
    const arbDoc = fc.record({
      rules: fc.array(arbRule, { maxLength: 12 }),
      exceptions: fc.array(fc.record({ rule: arbRule, expiresAt: fc.constantFrom('2026-12-01T00:00:00Z', '2026-12-05T00:00:00Z', '2026-12-09T00:00:00Z') }), {
        maxLength: 5,
      }),
      membership: fc.array(fc.subarray(DEVICES), { minLength: 3, maxLength: 3 }),
      defaultAction: fc.constantFrom('allow' as const, 'block' as const),
    });
    fc.assert(
      fc.property(
        arbDoc,
        fc.constantFrom(...DEVICES),
        fc.constantFrom('2026-11-30T00:00:00Z', '2026-12-03T00:00:00Z', '2026-12-07T00:00:00Z', '2026-12-10T00:00:00Z'),
        (gen, deviceId, at) => {
          const legacy = PolicyDocumentSchema.parse({
            format: 'vigil-policy/1',
            name: 'legacy',
            groups: Object.fromEntries(GROUPS.map((g, i) => [g, gen.membership[i]])),
            applications: {
              mode: 'enforce',
              defaultAction: gen.defaultAction,
              rules: gen.rules,
              exceptions: gen.exceptions.map((e) => ({ ...e, reason: 'because' })),
            },
          });
          const migrated = migrateSinglePolicy(legacy, AT);
          const now = Date.parse(at);
          // The console merges at publication time; the device decides later, at `at`.
          const deviceGroups = groupsOf({ id: deviceId, hostname: 'pc', enrollmentTokenId: null, ownership: null }, migrated.groups);
          const effective = mergeEffectivePolicy({
            groups: deviceGroups,
            policies: new Map([['baseline', migrated.baseline.content]]),
            assignments: { baseline: 'baseline', assignments: [] },
            now: new Date('2026-11-29T00:00:00Z'),
          }).document;
          const before = ruleSetDecider(compileApplications(legacy.applications!, legacyGroupsOf(legacy.groups, deviceId), undefined, now).ruleSet, () => now);
          const after = ruleSetDecider(compileApplications(effective.applications!, new Set(), undefined, now).ruleSet, () => now);
          for (let n = 0; n <= 5; n++) {
            for (const path of PATHS) {
              const file = { path, pid: 1, sha256: hex(n), dev: 1n, ino: 1n, size: 1, ctimeSec: 0, ctimeNsec: 0 };
              expect(after(file).action, `${path} ${n}`).toBe(before(file).action);
            }
          }
        },
      ),
      { numRuns: 400 },
    );
  });

  it('contentFromDocument records where rules came from', () => {
    const { content: c } = contentFromDocument(doc, { author: 'sm', at: AT, origin: 'file' });
    expect(new Set(c.rules.map((r) => `${r.origin}/${r.author}`))).toEqual(new Set(['file/sm']));
    expect(c.rules.filter((r) => r.exception)).toEqual([
      { rule: hashRule(3), exception: true, author: 'sm', addedAt: AT, origin: 'file', reason: 'mock exams', expiresAt: '2026-12-20T00:00:00Z' },
    ]);
  });
});

describe('single-rule edits and revisions', () => {
  const base = content([rec(hashRule(1, 'allow', { id: 'calc' }))]);
  it('adds, refuses a duplicate, changes on request, removes by key or id', () => {
    const added = addRule(base, rec(hashRule(2), { origin: 'console', reason: 'maths app' })).content;
    expect(added.rules).toHaveLength(2);
    expect(() => addRule(added, rec(hashRule(2, 'block'), { origin: 'console' }))).toThrow(`the policy already has rule sha256:${hex(2)}; change it instead`);
    const changed = addRule(added, rec(hashRule(2, 'block'), { origin: 'console' }), { replace: true });
    expect(changed.replaced?.rule.action).toBe('allow');
    expect(changed.content.rules.map((r) => r.rule.action)).toEqual(['allow', 'block']);
    expect(removeRule(changed.content, 'calc').removed.rule).toMatchObject({ id: 'calc' });
    expect(removeRule(changed.content, `sha256:${hex(2)}`).content.rules).toHaveLength(1);
    expect(() => removeRule(base, 'nope')).toThrow(PolicyEditError);
  });
  it('checks the added record (an exception needs an expiry and a reason) and the rule limit, naming it', () => {
    expect(() => addRule(base, rec(hashRule(3), { origin: 'console', exception: true }))).toThrow(/an exception needs an expiry/);
    expect(() => addRule(base, { ...rec(hashRule(3)), rule: { kind: 'sha256', sha256: 'not-hex', action: 'allow' } } as never)).toThrow(PolicyEditError);
    const full = content(Array.from({ length: POLICY_LIMITS.rules }, (_, i) => rec(hashRule(i + 10))));
    expect(() => addRule(full, rec(hashRule(5)))).toThrow(/the policy's rule limit/);
  });
  it('an approval written into a policy survives a later file push of that policy', () => {
    const approved = addRule(
      base,
      approvalRecord({ kind: 'sha256', sha256: hex(9), action: 'allow' }, { by: 'sm', at: AT, requestId: 'r1', reason: 'Scratch' }),
    ).content;
    const file = contentFromDocument(
      PolicyDocumentSchema.parse({ format: 'vigil-policy/1', name: 'x', applications: { rules: [hashRule(1, 'allow', { id: 'calc' })] } }),
      { author: 'sm', at: AT, origin: 'file' },
    ).content;
    const refused = planPush(approved, file, 'refuse');
    expect(refused.ok === false && refused.dropped.map((r) => r.requestId)).toEqual(['r1']);
    const kept = planPush(approved, file, 'keep-console-rules');
    const effective = mergeEffectivePolicy({
      groups: [],
      policies: new Map([['p', kept.ok ? kept.content : approved]]),
      assignments: { baseline: 'p', assignments: [] },
      now: new Date(AT),
    });
    expect(effective.document.applications?.rules.map((r) => r.kind === 'sha256' && r.sha256).sort()).toEqual([hex(1), hex(9)]);
  });
  it('an approval with an expiry is an exception that lapses on the device', () => {
    const record = approvalRecord(
      { kind: 'sha256', sha256: hex(9), action: 'allow' },
      { by: 'sm', at: AT, requestId: 'r1', reason: 'exam', expiresAt: '2026-12-20T00:00:00Z' },
    );
    expect(record).toMatchObject({ exception: true, expiresAt: '2026-12-20T00:00:00Z', origin: 'approval' });
  });
  it('a rollback is a new revision with the old content; numbers only grow', () => {
    const r1 = { policy: 'p', revision: 1, author: 'a', at: AT, change: 'create' as const, content: base };
    const r2 = nextRevision(r1, addRule(base, rec(hashRule(2))).content, { author: 'a', at: AT, change: 'rule-add' });
    const r3 = rollbackRevision([r1, r2], 1, { author: 'b', at: AT, reason: 'bad rule' });
    expect(r3).toMatchObject({ revision: 3, change: 'rollback', rolledBackTo: 1, content: base });
    expect(() => rollbackRevision([r1, r2], 7, { author: 'b', at: AT })).toThrow('policy has no revision 7');
  });
});

describe('group references', () => {
  const pols = new Map([
    ['base', content([rec(hashRule(1, 'allow', { groups: ['lab', 'art'] })), rec(hashRule(2))])],
    ['other', content([rec(hashRule(3))])],
  ]);
  const set = { baseline: 'base', assignments: [{ policy: 'other', group: 'lab', precedence: 4 }] };
  it('lists what names a group, so a delete can be refused with the list', () => {
    expect(groupReferences('lab', pols, set)).toEqual({ assignments: [{ policy: 'other', precedence: 4 }], scopedRules: [{ policy: 'base', count: 1 }] });
    expect(groupReferences('music', pols, set)).toEqual({ assignments: [], scopedRules: [] });
  });
  it('a rename reaches assignments and scoped rules, and the effective policy is unchanged for members', () => {
    const renamed = renameGroupEverywhere('lab', 'lab-2', pols, set);
    expect(renamed.assignments.assignments).toEqual([{ policy: 'other', group: 'lab-2', precedence: 4 }]);
    expect([...renamed.changedPolicies.keys()]).toEqual(['base']);
    const after = new Map([...pols, ...renamed.changedPolicies]);
    const now = new Date(AT);
    const before = mergeEffectivePolicy({ groups: ['lab'], policies: pols, assignments: set, now }).document;
    expect(mergeEffectivePolicy({ groups: ['lab-2'], policies: after, assignments: renamed.assignments, now }).document).toEqual(before);
  });
});
