import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PolicyContent, RuleRecord } from '../../src/shared/policies/model.js';
import {
  RevisionRunsError,
  assembleRuleRuns,
  decodeRevisionRuns,
  encodeRevisionRuns,
  encodeRuleRuns,
  type RuleRunItem,
} from '../../src/shared/policies/revision-runs.js';
import { hashRecord } from '../helpers/policy-model.js';

/** A revision stored as runs of its anchor (shared/policies/revision-runs.ts). */

const anchorOf = (count: number): RuleRecord[] => Array.from({ length: count }, (_, i) => hashRecord(i + 1));

type Edit = { kind: 'add' | 'remove' | 'replace'; at: number } | { kind: 'move'; at: number; to: number };

const arbEdit: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ kind: fc.constantFrom('add' as const, 'remove' as const, 'replace' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('move' as const), at: fc.nat(), to: fc.nat() }),
);

/** The console's way: each edit makes a new list from the one before, keeping the records it does not touch. */
function applyEdits(rules: readonly RuleRecord[], edits: readonly Edit[]): RuleRecord[] {
  let next = [...rules];
  let fresh = 0;
  const newRecord = () => hashRecord(1_000_000 + fresh++);
  for (const edit of edits) {
    const at = next.length === 0 ? 0 : edit.at % (next.length + (edit.kind === 'add' ? 1 : 0));
    if (edit.kind === 'add') next.splice(at, 0, newRecord());
    else if (next.length === 0) continue;
    else if (edit.kind === 'remove') next.splice(at, 1);
    else if (edit.kind === 'replace') next = next.map((r, i) => (i === at ? { ...r, rule: { ...r.rule, action: 'block' } } : r));
    else if (edit.kind === 'move') {
      const [moved] = next.splice(at, 1);
      next.splice(edit.to % (next.length + 1), 0, moved!);
    }
  }
  return next;
}

const isRun = (item: RuleRunItem): item is [number, number] => Array.isArray(item);

describe('policy revision runs', () => {
  it('assembles any edited list from its runs of the anchor: the same records, the very objects, in as few items as the edits need', () => {
    fc.assert(
      fc.property(fc.nat({ max: 60 }), fc.array(arbEdit, { maxLength: 8 }), (count, edits) => {
        const anchor = anchorOf(count);
        const next = applyEdits(anchor, edits);
        const items = encodeRuleRuns(anchor, next, Infinity)!;
        const assembled = assembleRuleRuns(anchor, items);
        expect(assembled).toEqual(next);
        assembled.forEach((record, i) => expect(record).toBe(next[i]));
        // No two runs that could be one; each edit splits the list in at most three more places.
        items.forEach((item, i) => {
          const after = items[i + 1];
          if (after && isRun(item) && isRun(after)) expect(after[0]).not.toBe(item[1]);
        });
        expect(items.length).toBeLessThanOrEqual(1 + 3 * edits.length);
      }),
    );
  });

  it('reads back through its stored text as the content written, and gives up past the bound on items', () => {
    fc.assert(
      fc.property(fc.nat({ max: 60 }), fc.array(arbEdit, { maxLength: 8 }), fc.nat({ max: 12 }), (count, edits, bound) => {
        const anchor: PolicyContent = { settings: { aup: { variant: 'staff' } }, rules: anchorOf(count) };
        const next: PolicyContent = { settings: { aup: { variant: 'pupils' } }, rules: applyEdits(anchor.rules, edits) };
        const stored = encodeRevisionRuns(anchor, next, Infinity)!;
        expect(decodeRevisionRuns(anchor, JSON.parse(JSON.stringify(stored)))).toEqual(next);
        const bounded = encodeRevisionRuns(anchor, next, bound);
        expect(bounded).toEqual(stored.rules.length > bound ? null : stored);
      }),
    );
  });

  it('a one-rule change to a big list is a few items', () => {
    const anchor = anchorOf(100_000);
    const added = [...anchor, hashRecord(0)];
    expect(encodeRuleRuns(anchor, added, 1_000)).toEqual([[0, 100_000], hashRecord(0)]);
    const removed = anchor.filter((_, i) => i !== 3);
    expect(encodeRuleRuns(anchor, removed, 1_000)).toEqual([
      [0, 3],
      [4, 100_000],
    ]);
    // An equal record that is another object is not the anchor's: it is stored as it is.
    expect(encodeRuleRuns(anchor, [{ ...anchor[0]! }, ...anchor.slice(1)], 1_000)).toEqual([anchor[0], [1, 100_000]]);
  });

  describe('a stored object that does not describe a valid content is refused with what is wrong', () => {
    const anchor: PolicyContent = { settings: {}, rules: anchorOf(10) };
    const refused =
      (rules: unknown[], others: object = {}) =>
      () =>
        decodeRevisionRuns(anchor, { settings: {}, ...others, rules });
    it.each([
      ['a run past the anchor', [[0, 11]], /rules\.0: run \[0, 11\] is outside the anchor's 10 rules/],
      ['a run that ends before it starts', [[4, 4]], /rules\.0: a run \[from, to\] ends after it starts/],
      ['a run that is not two whole numbers', [[0, 1.5]], /rules\.0\.1/],
      ['a bad literal record', [[0, 2], { ...hashRecord(20), origin: 'elsewhere' }], /rules\.1\.origin/],
      ['neither a run nor a record', [[0, 2], 'rule'], /rules\.1/],
      ['a rule twice', [[0, 10], hashRecord(3)], /rules\.10: rule sha256:\S+ is already rule 2/],
      ['more rules than a policy holds', Array.from({ length: 20_001 }, () => [0, 10]), /200010 rules is more than a policy holds \(200000\)/],
    ])('%s', (_name, rules, error) => {
      expect(refused(rules)).toThrow(RevisionRunsError);
      expect(refused(rules)).toThrow(error);
    });
    it('a field the content does not have, or a bad setting', () => {
      expect(refused([[0, 10]], { extra: 1 })).toThrow(/extra/);
      expect(refused([[0, 10]], { settings: { aup: { variant: 7 } } })).toThrow(/settings\.aup\.variant/);
    });
  });
});
