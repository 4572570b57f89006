import { canonicalJson, type CanonicalMemo } from './canonical-json.js';

/**
 * One order for a set of JSON values that both ends compute alike (browser-safe): by a 32-bit
 * FNV-1a hash of each value's canonical JSON, then by that JSON. Duplicates are dropped. Hashing
 * first keeps sorting 100,000 rules fast: rules share long prefixes (`{"action":"allow",...`), so
 * comparing their JSON directly costs a hundred characters per comparison.
 */
export interface CanonicalSet<T> {
  items: T[];
  /** The canonical JSON of each item, in the same order. */
  texts: string[];
}

export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

export function compareCanonical(a: { hash: number; text: string }, b: { hash: number; text: string }): number {
  return a.hash - b.hash || (a.text < b.text ? -1 : a.text > b.text ? 1 : 0);
}

export function canonicalSet<T>(values: Iterable<T>, memo?: CanonicalMemo): CanonicalSet<T> {
  const seen = new Map<string, { hash: number; text: string; item: T }>();
  for (const item of values) {
    const text = canonicalJson(item, memo);
    if (!seen.has(text)) seen.set(text, { hash: fnv1a32(text), text, item });
  }
  const sorted = [...seen.values()].sort(compareCanonical);
  return { items: sorted.map((e) => e.item), texts: sorted.map((e) => e.text) };
}
