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
  /** fnv1a32 of each text, in the same order. */
  hashes: number[];
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
  return compareKeys(a.hash, a.text, b.hash, b.text);
}

/** compareCanonical over a hash and a text given apart (lists that keep hashes and texts side by side). */
export function compareKeys(hashA: number, textA: string, hashB: number, textB: string): number {
  return hashA - hashB || (textA < textB ? -1 : textA > textB ? 1 : 0);
}

export function canonicalSet<T>(values: Iterable<T>, memo?: CanonicalMemo): CanonicalSet<T> {
  return withListText(sortedSet(values, memo), memo);
}

/**
 * The same as canonicalSet, for a list large enough to hold the event loop while it sorts
 * (100,000 rules: about 0.4 s): sorted `piece` items at a time, with a `pause` after each, then
 * merged in one linear pass (canonicalUnion). The result is the set canonicalSet gives.
 */
export async function canonicalSetInPieces<T>(
  values: readonly T[],
  memo: CanonicalMemo | undefined,
  pause: () => Promise<unknown>,
  piece = 20_000,
): Promise<CanonicalSet<T>> {
  if (values.length <= piece) return canonicalSet(values, memo);
  const parts: CanonicalSet<T>[] = [];
  for (let at = 0; at < values.length; at += piece) {
    parts.push(sortedSet(values.slice(at, at + piece), memo));
    await pause();
  }
  return canonicalUnion(parts, memo);
}

/** Sorted, duplicates dropped; the list's own text not yet made. */
function sortedSet<T>(values: Iterable<T>, memo?: CanonicalMemo): CanonicalSet<T> {
  const entries: { hash: number; text: string; item: T }[] = [];
  for (const item of values) {
    const text = canonicalJson(item, memo);
    entries.push({ hash: fnv1a32(text), text, item });
  }
  entries.sort(compareCanonical);
  // Equal texts sort next to each other: duplicates are dropped in one pass, without a map.
  const set: CanonicalSet<T> = { items: [], texts: [], hashes: [] };
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!;
    if (i > 0 && entry.text === set.texts[set.texts.length - 1]) continue;
    push(set, entry.item, entry.text, entry.hash);
  }
  return set;
}

function push<T>(set: CanonicalSet<T>, item: T, text: string, hash: number): void {
  set.items.push(item);
  set.texts.push(text);
  set.hashes.push(hash);
}

/**
 * The list's own text is its items' texts joined: whoever serialises the list next (a digest, a
 * signature) finds it in the memo instead of looking up every item again.
 */
function withListText<T>(set: CanonicalSet<T>, memo?: CanonicalMemo): CanonicalSet<T> {
  if (memo) {
    memo.set(set.items, `[${set.texts.join(',')}]`);
    madeSets.set(set.items, set);
  }
  return set;
}

/**
 * Sets made here with a memo (whose callers never mutate the lists: the console's merged rules),
 * by their items: asked whether such a list is a canonical set (the delta from one published
 * set to the next), the answer needs no hashing of 100,000 texts again.
 */
const madeSets = new WeakMap<readonly unknown[], CanonicalSet<unknown>>();

/**
 * The list as a canonical set when it already is one (in canonical order, no duplicates: a list a
 * console signed), without sorting; null otherwise. One pass over the texts.
 */
export function canonicalSetAsIs<T>(items: readonly T[], memo?: CanonicalMemo): CanonicalSet<T> | null {
  const made = memo && (madeSets.get(items) as CanonicalSet<T> | undefined);
  if (made) return made;
  const set: CanonicalSet<T> = { items: [...items], texts: items.map((item) => canonicalJson(item, memo)), hashes: [] };
  set.hashes = set.texts.map(fnv1a32);
  for (let k = 1; k < set.texts.length; k++) if (compareKeys(set.hashes[k - 1]!, set.texts[k - 1]!, set.hashes[k]!, set.texts[k]!) >= 0) return null;
  return set;
}

/**
 * The canonical set of the union of canonical sets: what canonicalSet of all their items gives,
 * by merging the sorted lists (linear) instead of sorting again. A large policy's rules are
 * sorted once and then merged into every group set's effective policy.
 */
export function canonicalUnion<T>(sets: readonly CanonicalSet<T>[], memo?: CanonicalMemo, spliced: SplicedText = 'text'): CanonicalSet<T> {
  const parts = sets.filter((set) => set.items.length > 0);
  if (parts.length <= 1) return parts[0] ?? withListText({ items: [], texts: [], hashes: [] }, memo);
  // A big policy and a few rules from others (a group's own policy): the few are put in place.
  const largest = parts.reduce((a, b) => (b.items.length > a.items.length ? b : a));
  const rest = parts.filter((part) => part !== largest);
  if (rest.reduce((n, part) => n + part.items.length, 0) * FEW_PER_MANY <= largest.items.length)
    return spliceCanonicalSet(largest, [], canonicalUnion(rest, memo), memo, spliced);
  const union: CanonicalSet<T> = { items: [], texts: [], hashes: [] };
  const at = parts.map(() => 0);
  for (;;) {
    let best = -1;
    for (let p = 0; p < parts.length; p++) {
      const i = at[p]!;
      if (i >= parts[p]!.items.length) continue;
      if (best < 0 || compareAt(parts[p]!, i, parts[best]!, at[best]!) < 0) best = p;
    }
    if (best < 0) return withListText(union, memo);
    const part = parts[best]!;
    const i = at[best]!++;
    if (union.texts.length === 0 || part.texts[i] !== union.texts[union.texts.length - 1]) push(union, part.items[i]!, part.texts[i]!, part.hashes[i]!);
  }
}

function compareAt<T>(a: CanonicalSet<T>, i: number, b: CanonicalSet<T>, j: number): number {
  return compareKeys(a.hashes[i]!, a.texts[i]!, b.hashes[j]!, b.texts[j]!);
}

/** Up to one item in this many is put in place by spliceCanonicalSet rather than merged item by item. */
const FEW_PER_MANY = 16;

/** The first position in `set` whose item does not sort before (hash, text). */
function lowerBound<T>(set: CanonicalSet<T>, hash: number, text: string): number {
  let low = 0;
  let high = set.items.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (compareKeys(set.hashes[mid]!, set.texts[mid]!, hash, text) < 0) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** The position of an item with this text in the set, or -1. */
export function indexInCanonicalSet<T>(set: CanonicalSet<T>, text: string, hash = fnv1a32(text)): number {
  const at = lowerBound(set, hash, text);
  return at < set.items.length && set.texts[at] === text ? at : -1;
}

/**
 * A canonical set with the items at `removed` (increasing positions) taken out and the items of
 * `added` put in: what canonicalSet of the result gives, by binary search and slices instead of
 * sorting 100,000 items again. An added item equal to one kept is dropped (the kept one stays).
 * The list text is cut from the base's when the memo holds it, instead of joining every text.
 */
export function spliceCanonicalSet<T>(
  base: CanonicalSet<T>,
  removed: readonly number[],
  added: CanonicalSet<T>,
  memo?: CanonicalMemo,
  spliced: SplicedText = 'text',
): CanonicalSet<T> {
  const gone = new Set(removed);
  // Each base range [from, to) is kept whole; inserted items go before position `to`.
  const cuts: { at: number; index: number }[] = [];
  for (let j = 0; j < added.items.length; j++) {
    const at = lowerBound(base, added.hashes[j]!, added.texts[j]!);
    if (at < base.items.length && base.texts[at] === added.texts[j] && !gone.has(at)) continue;
    cuts.push({ at, index: j });
  }
  const ranges: { from: number; to: number }[] = [];
  let from = 0;
  for (const at of [...removed, base.items.length]) {
    if (at > from) ranges.push({ from, to: at });
    from = at + 1;
  }
  const items: T[][] = [];
  const texts: string[][] = [];
  const hashes: number[][] = [];
  const pieces: ({ from: number; to: number } | number)[] = [];
  let cut = 0;
  const insertBefore = (limit: number) => {
    for (; cut < cuts.length && cuts[cut]!.at <= limit; cut++) {
      const j = cuts[cut]!.index;
      items.push([added.items[j]!]);
      texts.push([added.texts[j]!]);
      hashes.push([added.hashes[j]!]);
      pieces.push(j);
    }
  };
  for (const range of ranges) {
    let start = range.from;
    // Inserted items land inside the kept range at their positions.
    while (cut < cuts.length && cuts[cut]!.at < range.to) {
      const at = Math.max(cuts[cut]!.at, start);
      if (at > start) {
        items.push(base.items.slice(start, at));
        texts.push(base.texts.slice(start, at));
        hashes.push(base.hashes.slice(start, at));
        pieces.push({ from: start, to: at });
        start = at;
      }
      insertBefore(at);
    }
    items.push(base.items.slice(start, range.to));
    texts.push(base.texts.slice(start, range.to));
    hashes.push(base.hashes.slice(start, range.to));
    pieces.push({ from: start, to: range.to });
  }
  insertBefore(Infinity);
  const set: CanonicalSet<T> = { items: ([] as T[]).concat(...items), texts: ([] as string[]).concat(...texts), hashes: ([] as number[]).concat(...hashes) };
  const baseText = memo?.get(base.items);
  if (!memo || baseText === undefined) return withListText(set, memo);
  if (spliced === 'recipe') {
    recipes.set(set.items, { base, pieces, added });
    madeSets.set(set.items, set);
    return set;
  }
  // Where each base item starts in the base's list text: `[` then the texts, comma-separated.
  const starts = new Array<number>(base.items.length + 1);
  starts[0] = 1;
  for (let i = 0; i < base.items.length; i++) starts[i + 1] = starts[i]! + base.texts[i]!.length + 1;
  const parts = pieces
    .filter((piece) => typeof piece === 'number' || piece.to > piece.from)
    .map((piece) => (typeof piece === 'number' ? added.texts[piece]! : baseText.slice(starts[piece.from]!, starts[piece.to]! - 1)));
  memo.set(set.items, `[${parts.join(',')}]`);
  madeSets.set(set.items, set);
  return set;
}

/**
 * What a splice made its list of, for a caller that wants the list's text as bytes rather than as
 * a string ('recipe'): the base set (its text in the memo), and in order, the base's ranges kept
 * and the positions in `added` put between them. The console splices a 100,000-rule baseline
 * with each group set's few rules; joining 11 MB of text for each set, only to turn it into
 * bytes, was most of a one-rule change (policy-text.ts listBytesOf builds the bytes from the
 * base's instead). Such a list has no text in the memo: serialising it joins its items' texts.
 */
export type SplicedText = 'text' | 'recipe';

export interface SpliceRecipe<T> {
  base: CanonicalSet<T>;
  pieces: readonly ({ from: number; to: number } | number)[];
  added: CanonicalSet<T>;
}

const recipes = new WeakMap<readonly unknown[], SpliceRecipe<unknown>>();

export function spliceRecipeOf<T>(items: readonly T[]): SpliceRecipe<T> | undefined {
  return recipes.get(items) as SpliceRecipe<T> | undefined;
}
