import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson, type CanonicalMemo } from '../../src/shared/canonical-json.js';
import {
  canonicalSet,
  canonicalSetAsIs,
  canonicalSetInPieces,
  canonicalUnion,
  indexInCanonicalSet,
  spliceCanonicalSet,
} from '../../src/shared/canonical-order.js';

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

  it('a list sorted in pieces, pausing after each, is the canonical set of the list, list text included', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(value, { maxLength: 60 }), fc.integer({ min: 1, max: 12 }), async (list, piece) => {
        const memo: CanonicalMemo = new WeakMap();
        let pauses = 0;
        const set = await canonicalSetInPieces(list, memo, async () => void pauses++, piece);
        const whole = canonicalSet(list);
        expect(set.texts).toEqual(whole.texts);
        expect(set.hashes).toEqual(whole.hashes);
        expect(set.items.map((item) => canonicalJson(item))).toEqual(whole.texts);
        expect(memo.get(set.items)).toBe(canonicalJson(whole.items));
        expect(pauses).toBe(list.length > piece ? Math.ceil(list.length / piece) : 0);
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

  it('a set with items removed and added in place is the canonical set of what is left and added, list text included', () => {
    const wide = fc.oneof(fc.integer({ min: 0, max: 400 }), fc.record({ kind: fc.constantFrom('sha256', 'path'), n: fc.integer({ min: 0, max: 400 }) }));
    fc.assert(
      fc.property(fc.array(wide, { maxLength: 120 }), fc.array(fc.boolean(), { maxLength: 120 }), fc.array(wide, { maxLength: 12 }), (list, drop, more) => {
        const memo: CanonicalMemo = new WeakMap();
        const base = canonicalSet(list, memo);
        const removed = base.items.map((_, i) => i).filter((i) => drop[i]);
        const spliced = spliceCanonicalSet(base, removed, canonicalSet(more, memo), memo);
        const whole = canonicalSet([...base.items.filter((_, i) => !drop[i]), ...more]);
        expect(spliced.texts).toEqual(whole.texts);
        expect(spliced.hashes).toEqual(whole.hashes);
        expect(spliced.items.map((item) => canonicalJson(item))).toEqual(whole.texts);
        // The list text was cut from the base's: the same as serialising the list item by item.
        expect(canonicalJson(spliced.items, memo)).toBe(canonicalJson([...spliced.items]));
        expect(canonicalSetAsIs(spliced.items, memo)).toBe(spliced);
        for (const [i, text] of whole.texts.entries()) expect(indexInCanonicalSet(spliced, text)).toBe(i);
      }),
    );
  });

  it('a union of one big set and a few items from others is the same as merging them all', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 5000 }), { minLength: 200, maxLength: 400 }),
        fc.array(fc.array(value, { maxLength: 4 }), { maxLength: 3 }),
        (big, few) => {
          const memo: CanonicalMemo = new WeakMap();
          const union = canonicalUnion([canonicalSet(big, memo), ...few.map((list) => canonicalSet(list, memo))], memo);
          const whole = canonicalSet([...big, ...few.flat()]);
          expect(union.texts).toEqual(whole.texts);
          expect(canonicalJson(union.items, memo)).toBe(canonicalJson([...union.items]));
        },
      ),
    );
  });
});
