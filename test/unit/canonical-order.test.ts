import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson, type CanonicalMemo } from '../../src/shared/canonical-json.js';
import { canonicalSet, canonicalSetAsIs, canonicalUnion } from '../../src/shared/canonical-order.js';

const value = fc.oneof(fc.integer({ min: 0, max: 40 }), fc.record({ kind: fc.constantFrom('sha256', 'path'), n: fc.integer({ min: 0, max: 40 }) }));

describe('canonical order', () => {
  it('a union of canonical sets is the canonical set of all their items (merged, not sorted again)', () => {
    fc.assert(
      fc.property(fc.array(fc.array(value, { maxLength: 30 }), { maxLength: 5 }), (lists) => {
        const memo: CanonicalMemo = new WeakMap();
        const union = canonicalUnion(
          lists.map((list) => canonicalSet(list, memo)),
          memo,
        );
        const whole = canonicalSet(lists.flat());
        expect(union.texts).toEqual(whole.texts);
        expect(union.hashes).toEqual(whole.hashes);
        expect(union.items.map((item) => canonicalJson(item))).toEqual(whole.texts);
        // The list's own text is left in the memo, equal to serialising it item by item.
        expect(canonicalJson(union.items, memo)).toBe(canonicalJson([...union.items]));
      }),
    );
  });

  it('drops duplicates, whatever their order, keeping one of each', () => {
    fc.assert(
      fc.property(fc.array(value, { maxLength: 50 }), (list) => {
        const set = canonicalSet([...list, ...list.reverse()]);
        expect(new Set(set.texts).size).toBe(set.texts.length);
        expect(new Set(set.texts)).toEqual(new Set(list.map((v) => canonicalJson(v))));
      }),
    );
  });

  it('takes a list as a canonical set only when it already is one', () => {
    fc.assert(
      fc.property(fc.array(value, { maxLength: 40 }), (list) => {
        const sorted = canonicalSet(list);
        expect(canonicalSetAsIs(sorted.items)).toEqual(sorted);
        const texts = list.map((v) => canonicalJson(v));
        const isCanonical =
          texts.every((t, i) => i === 0 || sorted.texts.indexOf(texts[i - 1]!) < sorted.texts.indexOf(t)) && new Set(texts).size === texts.length;
        expect(canonicalSetAsIs(list) !== null).toBe(isCanonical);
        // A set made with a memo is known by its list: the answer is what was made, no texts hashed again.
        const memo: CanonicalMemo = new WeakMap();
        const made = canonicalSet(list, memo);
        expect(canonicalSetAsIs(made.items, memo)).toBe(made);
        expect(canonicalSetAsIs([...made.items], memo)).toEqual(made);
      }),
    );
  });
});
