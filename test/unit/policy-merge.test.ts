import fc from 'fast-check';
import { canonicalJson } from '../../src/shared/canonical-json.js';
import { describe, expect, it } from 'vitest';
import { compileApplications } from '../../src/agent/exec/rule-set.js';
import { ruleSetDecider } from '../../src/agent/exec/decision.js';
import { PolicyDocumentSchema } from '../../src/shared/policy.js';
import { POLICY_LIMITS } from '../../src/shared/policy-limits.js';
import {
  applicableAssignments,
  explainEffectivePolicy,
  formatExplanation,
  groupSetKey,
  groupsThatMatter,
  mergeEffectivePolicy,
  sortPolicyRules,
  UnknownPolicyError,
  type MergeInput,
} from '../../src/shared/policies/merge.js';
import { SETTING_NAMES, settingValue, type AssignmentSet, type PolicyContent, type RuleRecord } from '../../src/shared/policies/model.js';
import { matchKey, recordKey } from '../../src/shared/policies/rule-keys.js';
import { addRule, removeRule } from '../../src/shared/policies/edits.js';
import { AT, assignments, content, hashRecord, hashRule, hex, policies, rec } from '../helpers/policy-model.js';

const now = new Date('2026-12-02T12:00:00Z');
/** The effective policy and its explanation, which must agree with each other. */
const merge = (input: Omit<MergeInput, 'now'>) => {
  const full = { ...input, now };
  return { ...mergeEffectivePolicy(full), explanation: explainEffectivePolicy(full) };
};
const sha = (rules: { kind: string; sha256?: string }[] | undefined) => (rules ?? []).map((r) => r.sha256).sort();
const session = (lock: number) => ({
  lockAfterIdleSeconds: lock,
  logoffAfterIdleSeconds: 0,
  logoffAfterLockedSeconds: 1800,
  scheduledLogoff: { school: [], byod: [] },
  warningSeconds: 60,
  postpone: { allowed: false, maxTimes: 1, seconds: 600 },
});

describe('effective policy: which assignments apply', () => {
  const set = assignments('base', [
    ['lab', 'lab', 10],
    ['y7', 'year-7', 20],
    ['lab', 'year-7', 5],
  ]);
  it("baseline for everyone, then the device groups' assignments, highest precedence first", () => {
    expect(applicableAssignments([], set)).toEqual([{ policy: 'base', group: null, precedence: 0 }]);
    expect(applicableAssignments(['year-7', 'lab'], set).map((a) => `${a.policy}@${a.precedence}`)).toEqual(['y7@20', 'lab@10', 'base@0']);
  });
  it("a policy assigned through two of the device's groups counts once, at its higher precedence", () => {
    expect(applicableAssignments(['year-7'], set).map((a) => `${a.policy}@${a.precedence}`)).toEqual(['y7@20', 'lab@5', 'base@0']);
    expect(applicableAssignments(['year-7', 'lab'], set).filter((a) => a.policy === 'lab')).toEqual([{ policy: 'lab', group: 'lab', precedence: 10 }]);
  });
  it('an assignment naming a policy that does not exist is an error, not an empty policy', () => {
    expect(() => merge({ groups: ['lab'], policies: policies({ base: content() }), assignments: set })).toThrow(UnknownPolicyError);
  });
});

describe('effective policy: settings come from the highest-precedence assignment that sets them', () => {
  const pols = policies({
    base: content([], { session: session(300), aup: { variant: 'secondary' }, applications: { mode: 'enforce', defaultAction: 'block' } }),
    lab: content([], { session: session(120), applications: { defaultAction: 'allow' } }),
    staff: content([], { aup: { variant: 'staff' }, tray: { onStopped: 'report', graceSeconds: 15 } }),
  });
  const set = assignments('base', [
    ['lab', 'lab', 10],
    ['staff', 'staff', 20],
  ]);

  it("a device in no group gets the baseline's settings", () => {
    const { document, explanation } = merge({ groups: [], policies: pols, assignments: set });
    expect(document.session?.lockAfterIdleSeconds).toBe(300);
    expect(document.aup?.variant).toBe('secondary');
    expect(document.tray).toBeUndefined();
    expect(explanation.settings.find((s) => s.setting === 'tray')?.from).toBeNull();
    expect(explanation.settings.find((s) => s.setting === 'session')?.from).toEqual({ policy: 'base', group: null, precedence: 0 });
  });
  it('a section is taken whole from one assignment; a lower one fills only what no higher one sets', () => {
    const { document, explanation } = merge({ groups: ['lab'], policies: pols, assignments: set });
    expect(document.session).toEqual(session(120));
    expect(document.aup?.variant).toBe('secondary');
    expect(explanation.settings.find((s) => s.setting === 'session')?.from?.policy).toBe('lab');
    expect(explanation.settings.find((s) => s.setting === 'aup')?.from?.policy).toBe('base');
  });
  it('applications mode, default action and marks are three settings', () => {
    const { document, explanation } = merge({ groups: ['lab'], policies: pols, assignments: set });
    expect(document.applications).toMatchObject({ mode: 'enforce', defaultAction: 'allow', rules: [], exceptions: [] });
    expect(explanation.settings.find((s) => s.setting === 'applications.mode')?.from?.policy).toBe('base');
    expect(explanation.settings.find((s) => s.setting === 'applications.defaultAction')?.from?.policy).toBe('lab');
  });
  it('of two groups the higher precedence decides, and swapping the precedences swaps the outcome', () => {
    const both = { groups: ['lab', 'staff'], policies: pols };
    expect(merge({ ...both, assignments: set }).document.aup?.variant).toBe('staff');
    const withLabAup = policies({ ...Object.fromEntries(pols), lab: content([], { aup: { variant: 'lab' } }) });
    expect(merge({ groups: ['lab', 'staff'], policies: withLabAup, assignments: set }).document.aup?.variant).toBe('staff');
    expect(
      merge({
        groups: ['lab', 'staff'],
        policies: withLabAup,
        assignments: assignments('base', [
          ['lab', 'lab', 30],
          ['staff', 'staff', 20],
        ]),
      }).document.aup?.variant,
    ).toBe('lab');
  });
  it('nothing set: the agent section has its defaults and there is no exec gate', () => {
    const { document } = merge({ groups: [], policies: policies({ base: content() }), assignments: assignments('base') });
    expect(document).toEqual({ format: 'vigil-policy/1', name: 'base', agent: { heartbeatSeconds: 30, statusSeconds: 60 } });
    expect(PolicyDocumentSchema.parse(document)).toEqual(document);
  });
});

describe('effective policy: rules are a union, the assignment order deciding rules about the same programs', () => {
  it('rules about different programs from every applicable policy are all delivered', () => {
    const pols = policies({ base: content([rec(hashRule(1)), rec(hashRule(2, 'block'))]), lab: content([rec(hashRule(3))]) });
    const { document, explanation } = merge({ groups: ['lab'], policies: pols, assignments: assignments('base', [['lab', 'lab', 1]]) });
    expect(sha(document.applications?.rules)).toEqual([hex(1), hex(2), hex(3)]);
    expect(explanation.rules.map((r) => [r.matchKey, r.from.policy])).toEqual([
      [`sha256:${hex(1)}`, 'base'],
      [`sha256:${hex(2)}`, 'base'],
      [`sha256:${hex(3)}`, 'lab'],
    ]);
  });
  it("a higher-precedence policy's rule about the same program replaces a lower one's, which explain lists as shadowed", () => {
    const pols = policies({
      base: content([rec(hashRule(1, 'block'), { description: 'games' } as never)]),
      lab: content([rec(hashRule(1, 'allow'), { origin: 'approval', author: 'sm' })]),
    });
    const set = assignments('base', [['lab', 'lab', 1]]);
    const inLab = merge({ groups: ['lab'], policies: pols, assignments: set });
    expect(inLab.document.applications?.rules).toEqual([{ kind: 'sha256', sha256: hex(1), action: 'allow' }]);
    expect(inLab.explanation.shadowed).toMatchObject([
      { matchKey: `sha256:${hex(1)}`, from: { policy: 'base' }, by: { policy: 'lab', group: 'lab', precedence: 1 } },
    ]);
    expect(inLab.explanation.rules).toMatchObject([{ from: { policy: 'lab' }, author: 'sm', origin: 'approval' }]);
    const elsewhere = merge({ groups: [], policies: pols, assignments: set });
    expect(elsewhere.document.applications?.rules).toEqual([{ kind: 'sha256', sha256: hex(1), action: 'block' }]);
  });
  it("the override applies to exceptions too: a higher policy's block beats a lower policy's allow exception", () => {
    const exception = rec(hashRule(1, 'allow'), { exception: true, reason: 'exam software', expiresAt: '2026-12-20T00:00:00Z' });
    const pols = policies({ base: content([exception]), lab: content([rec(hashRule(1, 'block'))]) });
    const lab = merge({ groups: ['lab'], policies: pols, assignments: assignments('base', [['lab', 'lab', 1]]) });
    expect(lab.document.applications).toMatchObject({ rules: [{ sha256: hex(1), action: 'block' }], exceptions: [] });
    const base = merge({ groups: [], policies: pols, assignments: assignments('base', [['lab', 'lab', 1]]) });
    expect(base.document.applications?.exceptions).toEqual([
      { rule: { kind: 'sha256', sha256: hex(1), action: 'allow' }, reason: 'exam software', expiresAt: '2026-12-20T00:00:00Z' },
    ]);
    expect(base.nextChangeAt).toBe('2026-12-20T00:00:00.000Z');
  });
  it("within one policy, rules about the same program are all kept and the device's rule model decides (block beats allow)", () => {
    const pols = policies({ base: content([rec(hashRule(1, 'allow')), rec(hashRule(1, 'block', { groups: ['lab'] }))]) });
    const { document } = merge({ groups: ['lab'], policies: pols, assignments: assignments('base') });
    expect(document.applications?.rules).toHaveLength(2);
    const decide = ruleSetDecider(compileApplications(document.applications!, new Set()).ruleSet, () => now.getTime());
    expect(decide({ path: '/x', pid: 1, sha256: hex(1), dev: 1n, ino: 1n, size: 1, ctimeSec: 0, ctimeNsec: 0 }).action).toBe('deny');
  });
  it('group scope is resolved on the console: the device gets in-scope rules without their groups, and explain lists the rest', () => {
    const pols = policies({ base: content([rec(hashRule(1, 'allow', { groups: ['lab'] })), rec(hashRule(2, 'allow', { groups: ['art', 'music'] }))]) });
    const { document, explanation } = merge({ groups: ['lab', 'year-7'], policies: pols, assignments: assignments('base') });
    expect(document.applications?.rules).toEqual([{ kind: 'sha256', sha256: hex(1), action: 'allow' }]);
    expect(document.groups).toBeUndefined();
    expect(explanation.excluded).toMatchObject([{ matchKey: `sha256:${hex(2)}`, why: 'out-of-scope' }]);
  });
  it('a regular rule past its expiry is left out, and the next expiry is when the console recomputes', () => {
    const pols = policies({
      base: content([
        rec(hashRule(1), { origin: 'console', expiresAt: '2026-12-01T00:00:00Z' }),
        rec(hashRule(2), { origin: 'console', expiresAt: '2026-12-05T00:00:00Z' }),
        rec(hashRule(3), { origin: 'console', expiresAt: '2026-12-04T00:00:00Z' }),
      ]),
    });
    const result = merge({ groups: [], policies: pols, assignments: assignments('base') });
    expect(sha(result.document.applications?.rules)).toEqual([hex(2), hex(3)]);
    expect(result.explanation.excluded).toMatchObject([{ matchKey: `sha256:${hex(1)}`, why: 'expired' }]);
    expect(result.nextChangeAt).toBe('2026-12-04T00:00:00.000Z');
  });
  it('an effective policy over the rule limit is reported with the limit named', () => {
    const half = Math.ceil((POLICY_LIMITS.rules + 1) / 2);
    // Built without the schema's parse: 200,000 parses would be most of this test's time.
    const many = (from: number): RuleRecord[] =>
      Array.from({ length: half }, (_, i) => ({
        rule: { kind: 'sha256', sha256: hex(from + i), action: 'allow' },
        exception: false,
        author: 't',
        addedAt: AT,
        origin: 'file',
      }));
    const pols = policies({ base: content(many(0)), lab: content(many(half)) });
    const over = merge({ groups: ['lab'], policies: pols, assignments: assignments('base', [['lab', 'lab', 1]]) });
    expect(over.problems).toEqual([`the effective policy would hold ${2 * half} rules; the policy's rule limit is ${POLICY_LIMITS.rules}`]);
    expect(merge({ groups: [], policies: pols, assignments: assignments('base', [['lab', 'lab', 1]]) }).problems).toEqual([]);
  });
});

describe('explain, as the CLI prints it', () => {
  it('names the source of every setting and rule, and why rules were left out', () => {
    const pols = policies({
      base: content([rec(hashRule(1, 'block')), rec(hashRule(2, 'allow', { groups: ['art'] }))], { session: session(300) }),
      lab: content([rec(hashRule(1, 'allow'), { origin: 'approval', author: 'sm', reason: 'Scratch' })], { aup: { variant: 'lab' } }),
    });
    const explanation = explainEffectivePolicy({ groups: ['lab'], policies: pols, assignments: assignments('base', [['lab', 'lab', 10]]), now });
    const text = formatExplanation(explanation, [{ group: 'lab', reasons: [{ kind: 'explicit' }] }]);
    expect(text.split('\n')).toEqual([
      'Groups: lab (explicit)',
      'Policies applied, highest precedence first: lab (group lab, precedence 10), base (baseline)',
      'Settings:',
      '  agent: not set (agent default)',
      '  aup: lab (group lab, precedence 10)',
      '  session: base (baseline)',
      '  usb: not set (agent default)',
      '  activity: not set (agent default)',
      '  tray: not set (agent default)',
      '  applications.mode: not set (agent default)',
      '  applications.defaultAction: not set (agent default)',
      '  applications.linuxMarks: not set (agent default)',
      'Rules: 1 delivered, 1 shadowed, 1 left out',
      `  sha256:${hex(1)} from lab (group lab, precedence 10); approval by sm: Scratch`,
      `  shadowed sha256:${hex(1)} in base by lab (group lab, precedence 10)`,
      `  left out sha256:${hex(2)}@["art"] in base: scoped to groups this device is not in`,
    ]);
  });
});

describe('bundle sharing', () => {
  it('devices that agree on every group that matters share one group-set key', () => {
    const pols = policies({ base: content([rec(hashRule(1, 'allow', { groups: ['art'] }))]), lab: content() });
    const matter = groupsThatMatter(pols, assignments('base', [['lab', 'lab', 1]]));
    expect([...matter].sort()).toEqual(['art', 'lab']);
    expect(groupSetKey(['year-7', 'lab'], matter)).toBe(groupSetKey(['lab', 'year-8'], matter));
    expect(groupSetKey(['lab'], matter)).not.toBe(groupSetKey(['lab', 'art'], matter));
  });
});

// ------------------------------------------------------------------ properties

const GROUPS = ['g1', 'g2', 'g3', 'g4'] as const;
const POLICY_NAMES = ['base', 'p1', 'p2', 'p3'] as const;

const arbRule = fc.record({
  target: fc.oneof(
    fc.integer({ min: 1, max: 8 }).map((n) => ({ kind: 'sha256' as const, sha256: hex(n) })),
    fc.constantFrom('/opt/**', '/home/*/game', '/usr/bin/x').map((pattern) => ({ kind: 'path' as const, platform: 'posix' as const, pattern })),
  ),
  action: fc.constantFrom('allow' as const, 'block' as const),
  scope: fc.option(fc.subarray([...GROUPS], { minLength: 1 }), { nil: undefined }),
  exception: fc.boolean(),
  expiry: fc.constantFrom('2026-12-01T00:00:00Z', '2026-12-03T00:00:00Z', '2026-12-09T00:00:00Z', undefined),
});
const arbRecord = arbRule.map(({ target, action, scope, exception, expiry }): RuleRecord =>
  rec(
    { ...target, action, ...(scope ? { groups: scope } : {}) },
    exception ? { exception, reason: 'because', expiresAt: expiry ?? '2026-12-09T00:00:00Z' } : expiry ? { expiresAt: expiry } : {},
  ),
);
const arbSettings = fc.record(
  {
    aup: fc.constantFrom('primary', 'secondary', 'staff').map((variant) => ({ variant })),
    session: fc.integer({ min: 5, max: 900 }).map(session),
    applications: fc.record(
      { mode: fc.constantFrom('monitor' as const, 'enforce' as const), defaultAction: fc.constantFrom('allow' as const, 'block' as const) },
      { requiredKeys: [] },
    ),
  },
  { requiredKeys: [] },
);
const arbContent = fc.record({
  settings: arbSettings,
  rules: fc.uniqueArray(arbRecord, {
    maxLength: 12,
    selector: (r) => `${matchKey(r.rule)}|${r.exception}|${r.rule.action}|${JSON.stringify(r.rule.groups ?? null)}`,
  }),
});
const arbWorld = fc.record({
  contents: fc.tuple(arbContent, arbContent, arbContent, arbContent),
  assignments: fc.uniqueArray(
    fc.record({ policy: fc.constantFrom('p1', 'p2', 'p3'), group: fc.constantFrom(...GROUPS), precedence: fc.integer({ min: 1, max: 50 }) }),
    { maxLength: 6, selector: (a) => a.precedence },
  ),
  deviceGroups: fc.subarray([...GROUPS]),
});

function worldInput(world: fc.RecordValue<typeof arbWorld>['constraints'] extends never ? never : any): MergeInput {
  // Records with one record key would be refused by the schema; keep the first of each.
  const pols = new Map<string, PolicyContent>();
  POLICY_NAMES.forEach((name, i) => pols.set(name, dedupeKeys(world.contents[i])));
  const set: AssignmentSet = { baseline: 'base', assignments: dedupePairs(world.assignments) };
  return { groups: world.deviceGroups, policies: pols, assignments: set, now };
}
function dedupeKeys(c: PolicyContent): PolicyContent {
  const seen = new Set<string>();
  return {
    ...c,
    rules: c.rules.filter((r) => {
      const k = `${matchKey(r.rule)}|${r.exception ? r.rule.action : ''}|${JSON.stringify([...(r.rule.groups ?? [])].sort())}`;
      return seen.has(k) ? false : (seen.add(k), true);
    }),
  };
}
function dedupePairs<T extends { policy: string; group: string }>(list: T[]): T[] {
  const seen = new Set<string>();
  return list.filter((a) => (seen.has(`${a.policy}/${a.group}`) ? false : (seen.add(`${a.policy}/${a.group}`), true)));
}
function shuffled<T>(list: readonly T[], seed: number): T[] {
  const out = [...list];
  let s = seed >>> 0 || 1;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe('effective policy properties (fast-check)', () => {
  it('does not depend on the order rules were added, assignments listed or groups given', () => {
    fc.assert(
      fc.property(arbWorld, fc.integer(), (world, seed) => {
        const input = worldInput(world);
        const reordered: MergeInput = {
          ...input,
          groups: shuffled(input.groups, seed),
          policies: new Map([...input.policies].reverse().map(([name, c], i) => [name, { ...c, rules: shuffled(c.rules, seed + i) }])),
          assignments: { ...input.assignments, assignments: shuffled(input.assignments.assignments, seed ^ 0x5a5a) },
        };
        expect(mergeEffectivePolicy(reordered)).toEqual(mergeEffectivePolicy(input));
        expect(explainEffectivePolicy(reordered)).toEqual(explainEffectivePolicy(input));
      }),
      { numRuns: 300 },
    );
  });

  it("the console's way (texts kept, each policy's rules sorted once and merged) gives the same effective policy, merge after merge", async () => {
    await fc.assert(
      fc.asyncProperty(arbWorld, fc.integer(), async (world, seed) => {
        const input = worldInput(world);
        const memo = new WeakMap<object, string>();
        const plain = mergeEffectivePolicy(input);
        // Twice with one memo: the second merge takes the policies' sorted rules from the first.
        expect(mergeEffectivePolicy({ ...input, memo })).toEqual(plain);
        expect(mergeEffectivePolicy({ ...input, memo })).toEqual(plain);
        // Another device's groups over the same (cached) policies.
        const others = { ...input, groups: shuffled(input.groups, seed).slice(0, Math.max(0, input.groups.length - 1)) };
        expect(mergeEffectivePolicy({ ...others, memo })).toEqual(mergeEffectivePolicy(others));
        // The policies' rules sorted ahead of the merge (the console yields in between), on fresh
        // rule lists so nothing sorted above is reused: the same effective policy.
        const fresh = new Map([...input.policies].map(([name, c]): [string, PolicyContent] => [name, { ...c, rules: [...c.rules] }]));
        const early = new WeakMap<object, string>();
        // Pausing as the console does (its texts made first, a turn of the event loop now and then).
        for (const c of fresh.values()) await sortPolicyRules(c, now, early, () => Promise.resolve());
        expect(mergeEffectivePolicy({ ...input, policies: fresh, memo: early })).toEqual(plain);
      }),
      { numRuns: 300 },
    );
  });

  it('a revision edited on the console (rules added, changed, removed) is sorted from the one before, and merges exactly as one sorted afresh', async () => {
    const arbEdit = fc.oneof(
      fc.record({ add: fc.integer({ min: 1, max: 60 }), action: fc.constantFrom('allow' as const, 'block' as const), exception: fc.boolean() }),
      fc.record({ remove: fc.nat() }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.integer({ min: 1, max: 60 }), { maxLength: 40 }),
        fc.array(arbEdit, { minLength: 1, maxLength: 8 }),
        async (start, edits) => {
          const memo = new WeakMap<object, string>();
          let current = content(start.map((n) => hashRecord(n)));
          await sortPolicyRules(current, now, memo);
          for (const edit of edits) {
            let next: PolicyContent;
            if ('remove' in edit) {
              if (current.rules.length === 0) continue;
              next = removeRule(current, recordKey(current.rules[edit.remove % current.rules.length]!)).content;
            } else {
              const record = rec(hashRule(edit.add, edit.action), edit.exception ? { exception: true, reason: 'lab', expiresAt: '2026-12-09T00:00:00Z' } : {});
              next = addRule(current, record, { replace: true }).content;
            }
            expect(await sortPolicyRules(next, now, memo, undefined, current)).toBe('derived');
            const input = { groups: [], policies: policies({ base: next }), assignments: assignments('base'), now };
            // The same records as new objects: sorted afresh, nothing reused.
            const afresh = { ...next, rules: next.rules.map((r) => ({ ...r, rule: { ...r.rule } })) };
            expect(mergeEffectivePolicy({ ...input, memo })).toEqual(mergeEffectivePolicy({ ...input, policies: policies({ base: afresh }) }));
            expect(canonicalJson(mergeEffectivePolicy({ ...input, memo }).document, memo)).toBe(
              canonicalJson(mergeEffectivePolicy({ ...input, policies: policies({ base: afresh }) }).document),
            );
            current = next;
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('a big policy is sorted with pauses, while its texts are made and while it is sorted, and merges exactly as one sorted at once', async () => {
    const big = content(Array.from({ length: 45_000 }, (_, i) => hashRecord(45_000 - i)));
    const input = { groups: [], policies: policies({ base: big }), assignments: assignments('base'), now };
    let pauses = 0;
    const memo = new WeakMap<object, string>();
    expect(await sortPolicyRules(big, now, memo, async () => void pauses++)).toBe('sorted');
    // Two while its texts are made (every 20,000), three while it is sorted (20,000 at a time).
    expect(pauses).toBe(5);
    // Sorted once: asked again, there is nothing to do.
    expect(await sortPolicyRules(big, now, memo, async () => void pauses++)).toBe(false);
    expect(mergeEffectivePolicy({ ...input, memo })).toEqual(mergeEffectivePolicy(input));
  });

  it('respects precedence: every delivered rule comes from the highest applicable assignment with a live in-scope rule about that program', () => {
    fc.assert(
      fc.property(arbWorld, (world) => {
        const input = worldInput(world);
        const result = { ...mergeEffectivePolicy(input), explanation: explainEffectivePolicy(input) };
        const applied = applicableAssignments(input.groups, input.assignments);
        const live = (r: RuleRecord) =>
          (!r.rule.groups || r.rule.groups.some((g) => input.groups.includes(g))) && (!r.expiresAt || Date.parse(r.expiresAt) > now.getTime());
        const winner = new Map<string, string>();
        for (const a of applied)
          for (const r of input.policies.get(a.policy)!.rules) if (live(r) && !winner.has(matchKey(r.rule))) winner.set(matchKey(r.rule), a.policy);
        expect(new Set(result.explanation.rules.map((r) => r.matchKey))).toEqual(new Set(winner.keys()));
        for (const r of result.explanation.rules) expect(r.from.policy).toBe(winner.get(r.matchKey));
        for (const s of result.explanation.shadowed)
          expect(applied.findIndex((a) => a.policy === s.by.policy)).toBeLessThan(applied.findIndex((a) => a.policy === s.from.policy));
        // Assignments for groups the device is not in contribute nothing.
        const mine = new Set(applied.map((a) => a.policy));
        for (const r of result.explanation.rules) expect(mine.has(r.from.policy)).toBe(true);
        for (const name of SETTING_NAMES) {
          const from = result.explanation.settings.find((s) => s.setting === name)!.from;
          const expected = applied.find((a) => settingValue(input.policies.get(a.policy)!.settings, name) !== undefined);
          expect(from?.policy).toBe(expected?.policy);
        }
        expect(PolicyDocumentSchema.safeParse(result.document).success).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('raising an assignment above all others makes its policy win every program it has a live rule about', () => {
    fc.assert(
      fc.property(arbWorld, (world) => {
        const input = worldInput(world);
        const top = input.assignments.assignments.find((a) => input.groups.includes(a.group));
        fc.pre(top !== undefined);
        const raised: MergeInput = {
          ...input,
          assignments: { ...input.assignments, assignments: input.assignments.assignments.map((a) => (a === top ? { ...a, precedence: 1000 } : a)) },
        };
        const result = { explanation: explainEffectivePolicy(raised) };
        const keys = new Set(result.explanation.rules.filter((r) => r.from.policy === top!.policy).map((r) => r.matchKey));
        for (const r of result.explanation.rules) if (keys.has(r.matchKey)) expect(r.from.policy).toBe(top!.policy);
        for (const s of result.explanation.shadowed) if (s.from.policy === top!.policy) throw new Error(`top policy's rule ${s.key} was shadowed`);
      }),
      { numRuns: 200 },
    );
  });
});
