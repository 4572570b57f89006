import type { AppException, AppRule } from '../app-rules.js';
import { canonicalJson, type CanonicalMemo } from '../canonical-json.js';
import { canonicalSet, canonicalSetAsIs, canonicalUnion, compareKeys, type CanonicalSet } from '../canonical-order.js';
import type { PolicyBundlePayload } from '../policy.js';
import { POLICY_LIMITS } from '../policy-limits.js';
import type { Signature } from '../signed.js';
import type { MemberChange, PolicyDelta } from './delivery.js';

/**
 * Canonical form and deltas of a signed policy payload (browser-safe, pure).
 *
 * Canonical form: the payload with `applications.rules` and `applications.exceptions` in
 * canonical order (canonical-order.ts), duplicates dropped. The console signs only payloads in
 * this form, so a rule's position in it is well defined on both ends, and a delta can name
 * removed rules by position. Applying a delta yields a candidate only: the caller checks its
 * digest and the console's signature (policy-bundle-codec.ts) before anything is enforced.
 */

export function canonicalPayload(payload: PolicyBundlePayload): PolicyBundlePayload {
  const apps = payload.policy.applications;
  if (!apps) return payload;
  return {
    ...payload,
    policy: { ...payload.policy, applications: { ...apps, rules: canonicalSet(apps.rules).items, exceptions: canonicalSet(apps.exceptions).items } },
  };
}

/** The payload without its rule lists: what `members` changes describe. */
function skeleton(payload: PolicyBundlePayload): Record<string, unknown> {
  const apps = payload.policy.applications;
  if (!apps) return payload as unknown as Record<string, unknown>;
  return { ...payload, policy: { ...payload.policy, applications: { ...apps, rules: [], exceptions: [] } } };
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function memberChanges(a: Record<string, unknown>, b: Record<string, unknown>, path: string[], out: MemberChange[]): void {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  for (const key of keys) {
    const before = a[key];
    const after = b[key];
    if (canonicalJson(before ?? null) === canonicalJson(after ?? null) && (before === undefined) === (after === undefined)) continue;
    const here = [...path, key];
    if (isPlainObject(before) && isPlainObject(after) && here.length < 3) memberChanges(before, after, here, out);
    else out.push(after === undefined ? { path: here } : { path: here, value: after });
  }
}

interface ListDiff<T> {
  remove: number[];
  add: T[];
}

function listDiff<T>(from: readonly T[], to: readonly T[], memo?: CanonicalMemo): ListDiff<T> {
  const sortedFrom = canonicalSetAsIs(from, memo);
  const sortedTo = sortedFrom && canonicalSetAsIs(to, memo);
  if (sortedFrom && sortedTo) return sortedListDiff(sortedFrom, sortedTo);
  return setListDiff(
    from.map((item) => canonicalJson(item, memo)),
    to,
    to.map((item) => canonicalJson(item, memo)),
  );
}

/** Lists in canonical order (as the console signs them): one linear walk, no sets of 100,000 texts. */
function sortedListDiff<T>(from: CanonicalSet<T>, to: CanonicalSet<T>): ListDiff<T> {
  const remove: number[] = [];
  const add: T[] = [];
  let i = 0;
  let j = 0;
  while (i < from.items.length || j < to.items.length) {
    const order =
      i >= from.items.length ? 1 : j >= to.items.length ? -1 : compareKeys(from.hashes[i]!, from.texts[i]!, to.hashes[j]!, to.texts[j]!);
    if (order === 0) (i++, j++);
    else if (order < 0) remove.push(i++);
    else add.push(to.items[j++]!);
  }
  return { remove, add };
}

/** Any two lists (a bundle adopted from before canonical order was kept): by membership. */
function setListDiff<T>(fromTexts: readonly string[], to: readonly T[], toTexts: readonly string[]): ListDiff<T> {
  const wanted = new Set(toTexts);
  const held = new Set(fromTexts);
  const remove: number[] = [];
  fromTexts.forEach((text, i) => {
    if (!wanted.has(text)) remove.push(i);
  });
  return { remove, add: to.filter((_, j) => !held.has(toTexts[j]!)) };
}

/**
 * The delta from one canonical payload to another, or null when the change is too big for one
 * (POLICY_LIMITS.deltaRules) and the full bundle is the better thing to send.
 */
export function makeDelta(
  from: { payload: PolicyBundlePayload; digest: string },
  to: { payload: PolicyBundlePayload; digest: string; signature: Signature },
  memo?: CanonicalMemo,
): PolicyDelta | null {
  const rules = listDiff(from.payload.policy.applications?.rules ?? [], to.payload.policy.applications?.rules ?? [], memo);
  const exceptions = listDiff(from.payload.policy.applications?.exceptions ?? [], to.payload.policy.applications?.exceptions ?? [], memo);
  const changed = Math.max(rules.remove.length, rules.add.length, exceptions.remove.length, exceptions.add.length);
  if (changed > POLICY_LIMITS.deltaRules) return null;
  const members: MemberChange[] = [];
  memberChanges(skeleton(from.payload), skeleton(to.payload), [], members);
  if (members.length > 256) return null;
  return {
    kind: 'vigil.policy-delta',
    fromDigest: from.digest,
    toDigest: to.digest,
    toVersion: to.payload.version,
    members,
    rules,
    exceptions,
    signature: to.signature,
  };
}

/**
 * The payload a delta builds, and the same in parts: the rest of the payload with empty rule
 * lists (`shell`) and the lists, built from the held bundle's rules and the delta's additions
 * (null without an applications section), so a device can check them apart.
 */
export type DeltaResult =
  | { ok: true; payload: unknown; parts: { shell: unknown; lists: { rules: AppRule[]; exceptions: AppException[] } | null } }
  | { ok: false; detail: string };

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

function applyMembers(target: Record<string, unknown>, changes: readonly MemberChange[]): string | null {
  for (const change of changes) {
    if (change.path.some((key) => FORBIDDEN_KEYS.has(key))) return `member path ${change.path.join('.')} is not allowed`;
    let node: Record<string, unknown> = target;
    for (const key of change.path.slice(0, -1)) {
      const next = node[key];
      if (!isPlainObject(next)) return `member path ${change.path.join('.')} does not exist in the held policy`;
      node[key] = { ...next };
      node = node[key] as Record<string, unknown>;
    }
    const last = change.path.at(-1)!;
    if ('value' in change && change.value !== undefined) node[last] = change.value;
    else delete node[last];
  }
  return null;
}

/** Removals name held positions in increasing order: anything else is not a delta of what is held. */
export function checkRemovals(heldLength: number, remove: readonly number[], what: string): string | null {
  let previous = -1;
  for (const index of remove) {
    if (index <= previous || index >= heldLength) return `${what} removal ${index} is out of order or beyond the ${heldLength} held`;
    previous = index;
  }
  return null;
}

function applyList<T>(held: readonly T[], change: ListDiff<T>, what: string, memo?: CanonicalMemo): T[] | string {
  const problem = checkRemovals(held.length, change.remove, what);
  if (problem) return problem;
  const removed = new Set(change.remove);
  const kept = held.filter((_, i) => !removed.has(i));
  // What is kept of a list the console signed is still in canonical order: the additions are
  // merged in (linear); a list in any other order is sorted whole, as before.
  const sortedKept = canonicalSetAsIs(kept, memo);
  return sortedKept ? canonicalUnion([sortedKept, canonicalSet(change.add, memo)]).items : canonicalSet([...kept, ...change.add], memo).items;
}

/**
 * The rest of the payload a delta describes (its rule lists empty): the held payload's with the
 * delta's member changes. A fresh object the caller may fill in.
 */
export function deltaShell(held: PolicyBundlePayload, delta: PolicyDelta): { ok: true; shell: Record<string, unknown> } | { ok: false; detail: string } {
  const shell = structuredClone(skeleton(held));
  const problem = applyMembers(shell, delta.members);
  return problem ? { ok: false, detail: problem } : { ok: true, shell };
}

/**
 * The payload a delta describes, built on the held one. Not yet trusted: the caller compares its
 * digest with `delta.toDigest` and verifies `delta.signature` over it.
 */
export function applyDelta(held: PolicyBundlePayload, delta: PolicyDelta, memo?: CanonicalMemo): DeltaResult {
  const shell = deltaShell(held, delta);
  if (!shell.ok) return shell;
  const result = shell.shell;
  const rules = applyList<AppRule>(held.policy.applications?.rules ?? [], delta.rules, 'rule', memo);
  if (typeof rules === 'string') return { ok: false, detail: rules };
  const exceptions = applyList<AppException>(held.policy.applications?.exceptions ?? [], delta.exceptions, 'exception', memo);
  if (typeof exceptions === 'string') return { ok: false, detail: exceptions };
  const takes = shellTakesLists(result, rules.length + exceptions.length);
  if (typeof takes === 'string') return { ok: false, detail: takes };
  if (!takes) return { ok: true, payload: result, parts: { shell: result, lists: null } };
  const policy = result.policy as Record<string, unknown>;
  const payload = { ...result, policy: { ...policy, applications: { ...(policy.applications as object), rules, exceptions } } };
  return { ok: true, payload, parts: { shell: result, lists: { rules, exceptions } } };
}

/**
 * Whether a delta's shell has an applications section for the rule lists to go in (true), has
 * none and the lists are empty (false), or has none for the `members` rules the lists hold.
 */
export function shellTakesLists(shell: Record<string, unknown>, members: number): boolean | string {
  const policy = shell.policy as Record<string, unknown> | undefined;
  if (isPlainObject(policy?.applications)) return true;
  return members > 0 ? 'the delta adds rules to a policy without an applications section' : false;
}
