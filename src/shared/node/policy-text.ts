import type { AppException, AppRule } from '../app-rules.js';
import { canonicalJson, type CanonicalMemo } from '../canonical-json.js';
import { canonicalSet, compareKeys, fnv1a32, spliceRecipeOf, type CanonicalSet } from '../canonical-order.js';
import type { PolicyBundlePayload } from '../policy.js';
import { joinBytes } from './bytes.js';
import type { PolicyDelta } from '../policies/delivery.js';
import { checkRemovals, deltaShell, shellTakesLists } from '../policies/delta.js';

/**
 * The signed text of a policy's rule lists, kept as UTF-8 bytes beside the rules (Node; devices).
 *
 * A one-rule change to a 100,000-rule policy arrives as a delta; the device must then check the
 * console's signature over the whole resulting document. Serialising 100,000 rules again for that
 * (texts, order keys, join, UTF-8) took about 0.3 s of CPU per change. Kept as bytes with where
 * each rule starts and its order key, the resulting document is built by copying runs of the held
 * bytes around the few rules that changed: a hash and a signature check over 11 MB are what is left.
 */
export interface ListText<T> {
  items: readonly T[];
  /** fnv1a32 of each member's canonical text: the canonical order's first key (canonical-order.ts). */
  hashes: Uint32Array;
  /** The list's canonical JSON, `[m0,m1,…]`, as UTF-8. */
  bytes: Buffer;
  /** items.length + 1 entries: member i is bytes [starts[i], starts[i+1] - 1); a comma or `]` follows each. */
  starts: Int32Array;
}

export interface PayloadLists {
  rules: ListText<AppRule>;
  exceptions: ListText<AppException>;
}

/** The list's text and keys, or null when the list is not in canonical order (then deltas take the slow way). */
export function listText<T>(items: readonly T[], memo?: CanonicalMemo): ListText<T> | null {
  const count = items.length;
  const texts = new Array<string>(count);
  const hashes = new Uint32Array(count);
  for (let i = 0; i < count; i++) {
    const text = canonicalJson(items[i], memo);
    texts[i] = text;
    hashes[i] = fnv1a32(text);
    if (i > 0 && compareKeys(hashes[i - 1]!, texts[i - 1]!, hashes[i]!, text) >= 0) return null;
  }
  const joined = `[${texts.join(',')}]`;
  const bytes = Buffer.from(joined, 'utf8');
  const ascii = bytes.length === joined.length;
  const starts = new Int32Array(count + 1);
  let at = 1;
  for (let i = 0; i < count; i++) {
    starts[i] = at;
    at += (ascii ? texts[i]!.length : Buffer.byteLength(texts[i]!, 'utf8')) + 1;
  }
  starts[count] = bytes.length;
  return { items, hashes, bytes, starts };
}

/** Both lists of an applications section, when both are in canonical order. */
export function payloadListsOf(apps: { rules: readonly AppRule[]; exceptions: readonly AppException[] }, memo?: CanonicalMemo): PayloadLists | null {
  const rules = listText(apps.rules, memo);
  const exceptions = rules && listText(apps.exceptions, memo);
  return rules && exceptions ? { rules, exceptions } : null;
}

const EMPTY = Buffer.alloc(0);

/** Bytes made before, as one buffer or in parts (kept apart, so 11 MB is not copied to join them). */
export type SlotBytes = Uint8Array | readonly Uint8Array[];

/**
 * The canonical JSON of `value` as UTF-8, after `prefix`, with each slot object's bytes (made
 * before) put where that object stands: the rest is serialised (small), the large parts are
 * copied in, not serialised or converted again. Canonical JSON escapes every control character
 * inside strings and keys, so the marks standing for the slots cannot appear anywhere else.
 */
export function canonicalBytesAround(value: unknown, slots: readonly (readonly [object, SlotBytes])[], prefix: Uint8Array = EMPTY, join = joinBytes): Buffer {
  return join(canonicalPartsAround(value, slots, prefix));
}

/**
 * The same bytes in order, not joined: a caller that only hashes or compresses them (the console
 * signing 11 MB for each group set) needs no fresh copy of the whole.
 */
export function canonicalPartsAround(value: unknown, slots: readonly (readonly [object, SlotBytes])[], prefix: Uint8Array = EMPTY): Uint8Array[] {
  const marks = slots.map((_, i) => String.fromCharCode(1 + i));
  const text = canonicalJson(value, new WeakMap<object, string>(slots.map(([slot], i) => [slot, marks[i]!])));
  const found = slots.map(([, bytes], i) => ({ at: text.indexOf(marks[i]!), bytes })).sort((a, b) => a.at - b.at);
  const chunks: Uint8Array[] = [prefix];
  let from = 0;
  for (const { at, bytes } of found) {
    chunks.push(Buffer.from(text.slice(from, at), 'utf8'));
    if (bytes instanceof Uint8Array) chunks.push(bytes);
    else chunks.push(...bytes);
    from = at + 1;
  }
  chunks.push(Buffer.from(text.slice(from), 'utf8'));
  return chunks;
}

/**
 * The payload's canonical JSON as UTF-8, its rule lists taken from `lists` (whatever the payload's
 * own applications.rules/exceptions hold is ignored), after `prefix` (a signing input is built in
 * one copy; `join` may build it in a reused buffer, bytes.ts).
 */
export function payloadBytes(payload: object, lists: PayloadLists, prefix: Uint8Array = EMPTY, join = joinBytes): Buffer {
  const rulesSlot: unknown[] = [];
  const exceptionsSlot: unknown[] = [];
  const policy = (payload as { policy: Record<string, unknown> }).policy;
  const marked = { ...payload, policy: { ...policy, applications: { ...(policy.applications as object), rules: rulesSlot, exceptions: exceptionsSlot } } };
  return canonicalBytesAround(
    marked,
    [
      [rulesSlot, lists.rules.bytes],
      [exceptionsSlot, lists.exceptions.bytes],
    ],
    prefix,
    join,
  );
}

const OPEN = Buffer.from('[');
const CLOSE = Buffer.from(']');
const COMMA = Buffer.from(',');

/** The member's text, read back from the bytes: needed only when two order hashes are equal. */
const memberText = <T>(list: ListText<T>, i: number) => list.bytes.toString('utf8', list.starts[i]!, list.starts[i + 1]! - 1);

/**
 * The held list with a delta's removals (held positions, increasing) and additions: the same
 * list canonicalUnion would give, built by copying runs of the held bytes. An addition equal to
 * a kept member is kept once, as a union does.
 */
export function spliceList<T>(held: ListText<T>, remove: readonly number[], add: readonly T[], what: string, memo?: CanonicalMemo): ListText<T> | string {
  const problem = checkRemovals(held.items.length, remove, what);
  if (problem) return problem;
  const additions = canonicalSet(add, memo);
  const heldCount = held.items.length;
  const most = heldCount - remove.length + additions.items.length;
  const items: T[] = [];
  const hashes = new Uint32Array(most);
  const starts = new Int32Array(most + 1);
  const blocks: Buffer[] = [OPEN];
  let at = 1;
  // A run of held members copied as one block: held positions runFrom..runTo.
  let runFrom = -1;
  let runTo = -1;
  const block = (bytes: Buffer) => blocks.push(...(blocks.length > 1 ? [COMMA, bytes] : [bytes]));
  const endRun = () => {
    if (runFrom >= 0) block(held.bytes.subarray(held.starts[runFrom]!, held.starts[runTo + 1]! - 1));
    runFrom = -1;
  };
  const emit = (item: T, hash: number, length: number) => {
    starts[items.length] = at;
    hashes[items.length] = hash;
    items.push(item);
    at += length + 1;
  };
  let r = 0;
  let j = 0;
  for (let i = 0; ;) {
    while (r < remove.length && remove[r] === i) (r++, i++);
    const heldLeft = i < heldCount;
    const addLeft = j < additions.items.length;
    if (!heldLeft && !addLeft) break;
    const order = !heldLeft ? 1 : !addLeft ? -1 : held.hashes[i]! - additions.hashes[j]! || compareKeys(0, memberText(held, i), 0, additions.texts[j]!);
    if (order <= 0) {
      if (runFrom < 0 || runTo !== i - 1) (endRun(), (runFrom = i));
      runTo = i;
      emit(held.items[i]!, held.hashes[i]!, held.starts[i + 1]! - 1 - held.starts[i]!);
      i++;
      if (order === 0) j++;
    } else {
      endRun();
      const bytes = Buffer.from(additions.texts[j]!, 'utf8');
      block(bytes);
      emit(additions.items[j]!, additions.hashes[j]!, bytes.length);
      j++;
    }
  }
  endRun();
  blocks.push(CLOSE);
  const bytes = joinBytes(blocks);
  starts[items.length] = bytes.length;
  return { items, hashes: hashes.subarray(0, items.length), bytes, starts: starts.subarray(0, items.length + 1) };
}

export type ListsResult = { ok: true; shell: Record<string, unknown>; lists: PayloadLists | null } | { ok: false; detail: string };

/**
 * A delta applied to the held payload's kept text (not yet trusted: the caller checks the digest
 * and signature over payloadBytes(shell, lists)). `lists` is null when the result has no
 * applications section.
 */
export function applyDeltaToText(held: PolicyBundlePayload, heldLists: PayloadLists, delta: PolicyDelta, memo?: CanonicalMemo): ListsResult {
  const shell = deltaShell(held, delta);
  if (!shell.ok) return shell;
  const rules = spliceList(heldLists.rules, delta.rules.remove, delta.rules.add, 'rule', memo);
  if (typeof rules === 'string') return { ok: false, detail: rules };
  const exceptions = spliceList(heldLists.exceptions, delta.exceptions.remove, delta.exceptions.add, 'exception', memo);
  if (typeof exceptions === 'string') return { ok: false, detail: exceptions };
  const takes = shellTakesLists(shell.shell, rules.items.length + exceptions.items.length);
  if (typeof takes === 'string') return { ok: false, detail: takes };
  return { ok: true, shell: shell.shell, lists: takes ? { rules, exceptions } : null };
}

const kept = new WeakMap<PolicyBundlePayload, PayloadLists>();

/** Remembers the lists' text of a payload whose signature was checked over exactly that text. */
export function keepListText(payload: PolicyBundlePayload, lists: PayloadLists): void {
  kept.set(payload, lists);
}

export function keptListText(payload: PolicyBundlePayload): PayloadLists | undefined {
  return kept.get(payload);
}

const OPEN_LIST = Buffer.from('[');
const CLOSE_LIST = Buffer.from(']');
const LIST_COMMA = Buffer.from(',');

/** A base list's text as UTF-8, and where each member starts in it (as ListText.starts). */
interface BaseBytes {
  bytes: Buffer;
  starts: Int32Array;
}

/** By the base's items: every group set splices the same baseline, whose bytes are made once. */
const baseBytes = new WeakMap<readonly unknown[], BaseBytes>();

function bytesOfBase(base: CanonicalSet<unknown>, memo: CanonicalMemo): BaseBytes | null {
  const known = baseBytes.get(base.items);
  if (known) return known;
  const text = memo.get(base.items);
  if (text === undefined) return null;
  const bytes = Buffer.from(text, 'utf8');
  const ascii = bytes.length === text.length;
  const starts = new Int32Array(base.items.length + 1);
  let at = 1;
  for (let i = 0; i < base.items.length; i++) {
    starts[i] = at;
    at += (ascii ? base.texts[i]!.length : Buffer.byteLength(base.texts[i]!, 'utf8')) + 1;
  }
  starts[base.items.length] = bytes.length;
  const made = { bytes, starts };
  baseBytes.set(base.items, made);
  return made;
}

/**
 * The canonical JSON of a canonical set's items as UTF-8, in parts, or null when neither the
 * memo holds its text nor a splice left its recipe (then serialise it). A list spliced with a
 * recipe (canonical-order.ts) is its base's bytes, cut where the few added go: nothing is
 * joined or copied, the parts are views of the base's bytes.
 */
export function listBytesOf(items: readonly unknown[], memo: CanonicalMemo): Uint8Array[] | null {
  const recipe = spliceRecipeOf(items);
  const base = recipe && bytesOfBase(recipe.base, memo);
  if (recipe && base) {
    const parts: Uint8Array[] = [OPEN_LIST];
    for (const piece of recipe.pieces) {
      if (typeof piece !== 'number' && piece.to <= piece.from) continue;
      if (parts.length > 1) parts.push(LIST_COMMA);
      parts.push(
        typeof piece === 'number' ? Buffer.from(recipe.added.texts[piece]!, 'utf8') : base.bytes.subarray(base.starts[piece.from]!, base.starts[piece.to]! - 1),
      );
    }
    parts.push(CLOSE_LIST);
    return parts;
  }
  const text = memo.get(items);
  return text === undefined ? null : [Buffer.from(text, 'utf8')];
}
