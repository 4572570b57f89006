import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/shared/canonical-json.js';
import { canonicalSet, canonicalUnion, fnv1a32 } from '../../src/shared/canonical-order.js';
import { listBytesOf, listText, payloadBytes, spliceList, type ListText } from '../../src/shared/node/policy-text.js';

// Two texts with one order hash: their order is decided by the texts themselves, read back from
// the held bytes. Non-ASCII members make byte positions differ from character positions.
const COLLIDING = ['r9vl8', 'rapd6'];
const value = fc.oneof(
  fc.constantFrom(...COLLIDING, 'é', 'ü-ß', '😀', 'z'),
  fc.integer({ min: 0, max: 30 }),
  fc.record({ kind: fc.constantFrom('sha256', 'path'), n: fc.integer({ min: 0, max: 30 }), note: fc.constantFrom('', 'ö', '\u0001') }),
);

/** Every member's bytes are its canonical JSON, and the list's bytes are the list's canonical JSON. */
function expectConsistent<T>(list: ListText<T>): void {
  expect(list.bytes.toString('utf8')).toBe(canonicalJson([...list.items]));
  expect(list.starts.length).toBe(list.items.length + 1);
  expect(list.starts[list.items.length]).toBe(list.bytes.length);
  list.items.forEach((item, i) => {
    expect(list.bytes.toString('utf8', list.starts[i], list.starts[i + 1]! - 1)).toBe(canonicalJson(item));
    expect(list.hashes[i]).toBe(fnv1a32(canonicalJson(item)));
  });
}

describe('the signed text of rule lists, kept as bytes', () => {
  it('the colliding pair used below really shares an order hash', () => {
    expect(fnv1a32(canonicalJson(COLLIDING[0]))).toBe(fnv1a32(canonicalJson(COLLIDING[1])));
  });

  it("a big list with a few members put in leaves no text, and its bytes, cut from the base's, are its canonical JSON (property)", () => {
    fc.assert(
      fc.property(fc.array(value, { minLength: 60, maxLength: 120 }), fc.array(value, { maxLength: 3 }), (base, few) => {
        const memo = new WeakMap<object, string>();
        const big = canonicalSet(base, memo);
        const union = canonicalUnion([big, canonicalSet(few, memo)], memo, 'recipe');
        expect(union.items).toEqual(canonicalUnion([canonicalSet(base), canonicalSet(few)]).items);
        const parts = listBytesOf(union.items, memo);
        expect(parts).not.toBeNull();
        expect(Buffer.concat(parts!).toString('utf8')).toBe(canonicalJson([...union.items]));
        // Spliced (few enough to put in place): no 11 MB text joined for it.
        if (few.length * 16 <= big.items.length && union.items !== big.items) expect(memo.get(union.items)).toBeUndefined();
      }),
    );
  });

  it('a delta spliced into the held bytes gives the list a union gives, byte for byte (property)', () => {
    fc.assert(
      fc.property(
        fc.array(value, { maxLength: 40 }),
        fc.array(fc.boolean(), { maxLength: 40 }),
        fc.array(value, { maxLength: 12 }),
        (heldValues, drop, add) => {
          const held = listText(canonicalSet(heldValues).items)!;
          expect(held).not.toBeNull();
          expectConsistent(held);
          const remove = held.items.map((_, i) => i).filter((i) => drop[i]);
          const spliced = spliceList(held, remove, add, 'rule');
          if (typeof spliced === 'string') throw new Error(spliced);
          const kept = held.items.filter((_, i) => !drop[i]);
          const union = canonicalUnion([canonicalSet(kept), canonicalSet(add)]);
          expect(spliced.items.map((item) => canonicalJson(item))).toEqual(union.texts);
          expectConsistent(spliced);
          // What a device keeps after the delta is what it would have built from the whole list.
          const rebuilt = listText(spliced.items)!;
          expect(Buffer.compare(rebuilt.bytes, spliced.bytes)).toBe(0);
          expect([...rebuilt.starts]).toEqual([...spliced.starts]);
        },
      ),
    );
  });

  it('refuses removals out of order or beyond the held list, naming the position', () => {
    const held = listText(canonicalSet([1, 2, 3]).items)!;
    expect(spliceList(held, [2, 1], [], 'rule')).toMatch(/rule removal 1 is out of order/);
    expect(spliceList(held, [3], [], 'rule')).toMatch(/rule removal 3 is out of order or beyond the 3 held/);
    expect(spliceList(held, [0, 0], [], 'exception')).toMatch(/exception removal 0/);
  });

  it('a list out of canonical order is not kept as text (deltas then take the slow way)', () => {
    const sorted = canonicalSet([1, 2, 3, 4]).items;
    expect(listText([...sorted].reverse())).toBeNull();
    expect(listText([sorted[0], sorted[0]])).toBeNull();
    expect(listText([])).not.toBeNull();
  });

  it('the payload built around the lists is its canonical JSON, whatever control characters its strings hold (property)', () => {
    fc.assert(
      fc.property(fc.array(value, { maxLength: 10 }), fc.array(value, { maxLength: 10 }), fc.string(), fc.string(), (rules, exceptions, note, mode) => {
        const lists = { rules: listText(canonicalSet(rules).items)!, exceptions: listText(canonicalSet(exceptions).items)! };
        const payload = {
          version: 3,
          note: `${note}\u0001\u0002`,
          policy: { aup: { text: '\u0002' }, applications: { mode, defaultAction: 'block', rules: [], exceptions: [] } },
        };
        const whole = {
          ...payload,
          policy: { ...payload.policy, applications: { ...payload.policy.applications, rules: lists.rules.items, exceptions: lists.exceptions.items } },
        };
        expect(payloadBytes(payload, lists as never).toString('utf8')).toBe(canonicalJson(whole));
      }),
    );
  });
});
