import { describe, expect, it } from 'vitest';
import { canonicalJson, smallPartsMemo } from '../../src/shared/canonical-json.js';

describe('canonicalJson', () => {
  it('sorts keys at every depth and drops undefined members', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: undefined } })).toBe('{"a":{"d":[3,{"y":2,"z":1}]},"b":1}');
  });
  it('gives the same bytes whatever order the keys arrived in', () => {
    const a = JSON.parse('{"x":1,"y":{"p":true,"q":null}}');
    const b = JSON.parse('{"y":{"q":null,"p":true},"x":1}');
    expect(canonicalJson(a)).toBe(canonicalJson(b));
  });
  it('refuses values JSON cannot carry faithfully', () => {
    expect(() => canonicalJson({ n: Number.NaN })).toThrow(/non-finite/);
    expect(() => canonicalJson({ f: () => 1 })).toThrow(/unsupported/);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => canonicalJson(cyclic)).toThrow(/cyclic/);
  });
  it('serialises deep nesting, and a small-parts memo keeps rules, not lists of thousands', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 500; i++) deep = [deep];
    expect(canonicalJson(deep)).toBe(`${'['.repeat(500)}1${']'.repeat(500)}`);
    const memo = smallPartsMemo();
    const rule = { sha256: 'ab', kind: 'sha256' };
    const big = { rules: Array.from({ length: 2000 }, (_, i) => ({ ...rule, id: `r${i}` })), first: rule };
    const text = canonicalJson(big, memo);
    expect(memo.get(rule)).toBe('{"kind":"sha256","sha256":"ab"}');
    expect(memo.has(big.rules)).toBe(false); // over 64 KiB: joined again from its items when asked
    expect(canonicalJson(big, memo)).toBe(text);
    const whole = new WeakMap<object, string>();
    expect(canonicalJson(big, whole)).toBe(text);
    expect(whole.get(big)).toBe(text);
  });
  it('escapes strings exactly as JSON.stringify does', () => {
    expect(canonicalJson({ s: 'a"b\\c\u2028' })).toBe(`{"s":${JSON.stringify('a"b\\c\u2028')}}`);
  });
});
