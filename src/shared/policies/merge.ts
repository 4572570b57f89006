import { APPROVALS_POLICY } from './api.js';
import type { AppException, AppRule, Applications } from '../app-rules.js';
import { canonicalJson, type CanonicalMemo } from '../canonical-json.js';
import { canonicalSet, canonicalSetInPieces, canonicalUnion, indexInCanonicalSet, spliceCanonicalSet, type CanonicalSet, type SplicedText } from '../canonical-order.js';
import type { PolicyDocument } from '../policy.js';
import { POLICY_LIMITS } from '../policy-limits.js';
import { SETTING_NAMES, settingValue, type AssignmentSet, type PolicyContent, type RuleRecord, type SettingName } from './model.js';
import { matchKey, recordKey } from './rule-keys.js';

/**
 * The effective policy of a device: what the console signs and sends it (browser-safe, pure).
 *
 * Merge rules (docs/policies.md):
 * - Applicable assignments: the baseline (below everything), then every assignment whose group
 *   the device is in, ordered by precedence. A policy assigned through several groups counts
 *   once, at its highest precedence.
 * - Settings: each setting (a section, or one of `applications`' three fields) comes from the
 *   highest-precedence assignment whose policy sets it; set by none, it is left out and the
 *   agent's default applies.
 * - Rules: a union. First the console resolves what only it can: a rule scoped to groups
 *   (`groups`) applies only if the device is in one of them, and a rule past its `expiresAt` no
 *   longer applies. Then, for rules matching the same programs (one `matchKey`), the
 *   highest-precedence assignment holding any decides and lower ones' are shadowed. All other
 *   conflicts are left to the rule model on the device (hash before signer before path; an
 *   exception beats a regular rule of its tier; block beats allow).
 * The result is in canonical order (canonical-order.ts; duplicates dropped),
 * so it does not depend on the order rules were added or assignments listed.
 */

export interface AssignmentRef {
  policy: string;
  /** null: the baseline. */
  group: string | null;
  /** 0 for the baseline. */
  precedence: number;
}

export interface RuleOrigin {
  key: string;
  matchKey: string;
  from: AssignmentRef;
  author: string;
  origin: RuleRecord['origin'];
  reason?: string;
  addedAt: string;
  expiresAt?: string;
}

export interface Explanation {
  groups: string[];
  /** Highest precedence first. */
  applied: AssignmentRef[];
  settings: { setting: SettingName; from: AssignmentRef | null }[];
  rules: RuleOrigin[];
  shadowed: (RuleOrigin & { by: AssignmentRef })[];
  excluded: (RuleOrigin & { why: 'out-of-scope' | 'expired' })[];
}

export interface PolicyTitle {
  displayName: string;
  description?: string;
}

export interface MergeInput {
  /** The device's groups (membership.ts). */
  groups: readonly string[];
  policies: ReadonlyMap<string, PolicyContent>;
  assignments: AssignmentSet;
  now: Date;
  /** The effective document's `name`; default: from `titles`, else the applied policies' names. */
  name?: string;
  /**
   * Policies' display names and descriptions: the effective document then takes those of the
   * highest-precedence policy applied that is not the approvals policy (which only carries
   * approved rules), as a device's user and its technician know it ("Staff laptops", the
   * baseline's name elsewhere).
   */
  titles?: ReadonlyMap<string, PolicyTitle>;
  /** Canonical texts of rules already seen (the console keeps one across merges). */
  memo?: CanonicalMemo;
  /** 'recipe': a big list with a few rules put in leaves a recipe for its bytes, not its text (canonical-order.ts SplicedText). */
  spliced?: SplicedText;
}

export class UnknownPolicyError extends Error {
  constructor(readonly policy: string) {
    super(`assignment names policy "${policy}", which does not exist`);
  }
}

export function applicableAssignments(groups: readonly string[], assignments: AssignmentSet): AssignmentRef[] {
  const member = new Set(groups);
  const applied: AssignmentRef[] = [];
  const seen = new Set<string>();
  const ordered = assignments.assignments.filter((a) => member.has(a.group)).sort((a, b) => b.precedence - a.precedence);
  for (const a of ordered) {
    if (seen.has(a.policy)) continue;
    seen.add(a.policy);
    applied.push({ policy: a.policy, group: a.group, precedence: a.precedence });
  }
  if (!seen.has(assignments.baseline)) applied.push({ policy: assignments.baseline, group: null, precedence: 0 });
  return applied;
}

const byString = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export interface EffectivePolicy {
  document: PolicyDocument;
  /** The next moment a rule in it lapses: the console recomputes then. */
  nextChangeAt: string | null;
  /** Limits the effective policy breaks (each names the limit); empty when it can be published. */
  problems: string[];
}

/** What the walk over the applicable rules reports, for `explain`; the merge itself needs none of it. */
interface Witness {
  included(record: RuleRecord, from: AssignmentRef, key: string): void;
  shadowed(record: RuleRecord, from: AssignmentRef, key: string, by: AssignmentRef): void;
  excluded(record: RuleRecord, from: AssignmentRef, why: 'out-of-scope' | 'expired'): void;
}

/** The rules one applied policy contributes. */
interface Part {
  records: readonly RuleRecord[];
  regular: AppRule[];
  exceptions: AppException[];
  /** Every record delivered as stored (none out of scope, expired, shadowed or scoped). */
  whole: boolean;
}

interface Walk {
  applied: AssignmentRef[];
  settings: Explanation['settings'];
  chosen: Map<SettingName, unknown>;
  parts: Part[];
  nextChange: number;
}

function walk(input: MergeInput, witness?: Witness): Walk {
  const applied = applicableAssignments(input.groups, input.assignments);
  const contents = applied.map((ref) => {
    const content = input.policies.get(ref.policy);
    if (!content) throw new UnknownPolicyError(ref.policy);
    return { ref, content };
  });
  const member = new Set(input.groups);
  const now = input.now.getTime();

  const settings: Explanation['settings'] = [];
  const chosen = new Map<SettingName, unknown>();
  for (const name of SETTING_NAMES) {
    const winner = contents.find(({ content }) => settingValue(content.settings, name) !== undefined);
    settings.push({ setting: name, from: winner?.ref ?? null });
    if (winner) chosen.set(name, settingValue(winner.content.settings, name));
  }

  const claimedBy = new Map<string, AssignmentRef>();
  const parts: Part[] = [];
  let nextChange = Infinity;
  for (const [index, { ref, content }] of contents.entries()) {
    // Nothing is below the last policy (the baseline): its rules claim nothing anyone would ask about.
    const claims = index < contents.length - 1;
    const part: Part = { records: content.rules, regular: [], exceptions: [], whole: true };
    parts.push(part);
    for (const record of content.rules) {
      const { rule } = record;
      if (rule.groups && !rule.groups.some((g) => member.has(g))) {
        witness?.excluded(record, ref, 'out-of-scope');
        part.whole = false;
        continue;
      }
      const expiry = record.expiresAt ? Date.parse(record.expiresAt) : Infinity;
      if (expiry <= now) {
        witness?.excluded(record, ref, 'expired');
        part.whole = false;
        continue;
      }
      const key = matchKeyOf(rule);
      const owner = claimedBy.get(key);
      if (owner && owner !== ref) {
        witness?.shadowed(record, ref, key, owner);
        part.whole = false;
        continue;
      }
      if (claims) claimedBy.set(key, ref);
      witness?.included(record, ref, key);
      if (expiry < nextChange) nextChange = expiry;
      // Scope is resolved here, on the console: the device receives only rules that apply to it.
      if (rule.groups) part.whole = false;
      const delivered = rule.groups ? withoutScope(rule) : rule;
      if (record.exception) part.exceptions.push(exceptionOf(record, delivered));
      else part.regular.push(delivered);
    }
  }
  return { applied, settings, chosen, parts, nextChange };
}

/**
 * Match keys of stored rules, made once: a revision keeps the rule objects of the one before, and
 * every group set's merge looks up all 100,000 of them.
 */
const matchKeys = new WeakMap<AppRule, string>();

function matchKeyOf(rule: AppRule): string {
  let key = matchKeys.get(rule);
  if (key === undefined) {
    key = matchKey(rule);
    matchKeys.set(rule, key);
  }
  return key;
}

function exceptionOf(record: RuleRecord, rule: AppRule): AppException {
  return { rule, reason: record.reason!, expiresAt: record.expiresAt! };
}

/**
 * A policy's records sorted once (by the array, which a revision never changes): a change to a
 * 100,000-rule policy is merged into every group set, and each set merges the sorted lists
 * instead of sorting the union again. Only when a memo is kept (the console): it holds the texts.
 */
const sortedParts = new WeakMap<readonly RuleRecord[], { regular: CanonicalSet<AppRule>; exceptions: CanonicalSet<AppException> }>();

function sortedPart(part: Part, memo?: CanonicalMemo): { regular: CanonicalSet<AppRule>; exceptions: CanonicalSet<AppException> } {
  if (!part.whole || !memo) return sortRules(part.regular, part.exceptions, memo);
  let sorted = sortedParts.get(part.records);
  if (!sorted) {
    sorted = sortRules(part.regular, part.exceptions, memo);
    sortedParts.set(part.records, sorted);
  }
  return sorted;
}

function sortRules(regular: readonly AppRule[], exceptions: readonly AppException[], memo?: CanonicalMemo) {
  return { regular: canonicalSet(regular, memo), exceptions: canonicalSet(exceptions, memo) };
}

/** Rules serialised between two pauses of sortPolicyRules: 20,000 are about 30 ms here. */
const TEXTS_PER_PAUSE = 20_000;

/**
 * Sorts a policy's rules ahead of the merges that will take them whole (what sortedPart would
 * do inside the first group set's merge), so a caller can yield between the two: for a new
 * 100,000-rule revision each is most of a second. The rules' texts are made first, `pause`d
 * every TEXTS_PER_PAUSE rules, so that the sort itself finds them in the memo. A revision that
 * differs from `previous` by a few records is sorted from it instead ('derived'). Returns false
 * when there was nothing to sort; a policy with scoped or lapsed rules is never taken whole, so
 * it is left to the merge.
 */
export async function sortPolicyRules(
  content: PolicyContent,
  now: Date,
  memo: CanonicalMemo,
  pause?: () => Promise<unknown>,
  previous?: PolicyContent,
): Promise<false | 'sorted' | 'derived'> {
  if (sortedParts.has(content.rules)) return false;
  const at = now.getTime();
  if (content.rules.some((r) => r.rule.groups || (r.expiresAt && Date.parse(r.expiresAt) <= at))) return false;
  const derived = previous && derivedSort(content.rules, previous.rules, memo);
  if (derived) {
    sortedParts.set(content.rules, derived);
    return 'derived';
  }
  if (pause)
    for (let i = 0; i < content.rules.length; i++) {
      canonicalJson(content.rules[i]!.rule, memo);
      if ((i + 1) % TEXTS_PER_PAUSE === 0) await pause();
    }
  if (sortedParts.has(content.rules)) return false;
  const { regular, exceptions } = splitRecords(content.rules);
  // Sorting 100,000 rules at once held the console for 0.4 s: with a pause, it is sorted in pieces.
  const sorted = pause
    ? { regular: await canonicalSetInPieces(regular, memo, pause), exceptions: await canonicalSetInPieces(exceptions, memo, pause) }
    : sortRules(regular, exceptions, memo);
  if (sortedParts.has(content.rules)) return false;
  sortedParts.set(content.rules, sorted);
  return 'sorted';
}

/** Records added and removed between two revisions, beyond which a revision is sorted afresh. */
const DERIVED_CHANGES_MAX = 1000;

/**
 * A revision's sorted rules made from its predecessor's, when it differs by a few records (a
 * rule added, changed or removed on the console): those are put in or taken out by binary
 * search, instead of sorting 100,000 rules again. Records are compared by identity: an edit
 * keeps every record it does not touch (edits.ts). Null when the predecessor was not sorted
 * whole, the change is big, or a list holds two records with one text (a set keeps one of them;
 * taking one out by its text would be wrong): then the caller sorts as before.
 */
function derivedSort(rules: readonly RuleRecord[], before: readonly RuleRecord[], memo: CanonicalMemo) {
  const sorted = sortedParts.get(before);
  if (!sorted) return null;
  let head = 0;
  while (head < rules.length && head < before.length && rules[head] === before[head]) head++;
  let tail = 0;
  while (tail < rules.length - head && tail < before.length - head && rules[rules.length - 1 - tail] === before[before.length - 1 - tail]) tail++;
  const changedNow = rules.slice(head, rules.length - tail);
  const changedBefore = before.slice(head, before.length - tail);
  if (changedNow.length + changedBefore.length > DERIVED_CHANGES_MAX) return null;
  const kept = new Set(changedNow);
  const removed = changedBefore.filter((r) => !kept.has(r));
  const was = new Set(changedBefore);
  const added = changedNow.filter((r) => !was.has(r));
  const out = splitRecords(removed);
  const into = splitRecords(added);
  const regular = derivedList(sorted.regular, out.regular, into.regular, memo);
  const exceptions = derivedList(sorted.exceptions, out.exceptions, into.exceptions, memo);
  if (!regular || !exceptions) return null;
  const exceptionCount = rules.reduce((n, r) => n + (r.exception ? 1 : 0), 0);
  // One item per record: no two records share a text, so the set is exactly what sorting gives.
  if (regular.items.length !== rules.length - exceptionCount || exceptions.items.length !== exceptionCount) return null;
  return { regular, exceptions };
}

function derivedList<T>(sorted: CanonicalSet<T>, removed: readonly T[], added: readonly T[], memo: CanonicalMemo): CanonicalSet<T> | null {
  if (removed.length === 0 && added.length === 0) return sorted;
  const positions = removed.map((item) => indexInCanonicalSet(sorted, canonicalJson(item, memo)));
  if (positions.includes(-1)) return null;
  return spliceCanonicalSet(
    sorted,
    [...new Set(positions)].sort((a, b) => a - b),
    canonicalSet(added, memo),
    memo,
  );
}

/** A policy's records as the items its sorted lists hold: rules, and exceptions with their reason and expiry. */
function splitRecords(records: readonly RuleRecord[]): { regular: AppRule[]; exceptions: AppException[] } {
  return {
    regular: records.filter((r) => !r.exception).map((r) => r.rule),
    exceptions: records.filter((r) => r.exception).map((r) => exceptionOf(r, r.rule)),
  };
}

function withoutScope(rule: AppRule): AppRule {
  const { groups: _scope, ...rest } = rule;
  return rest as AppRule;
}

export function mergeEffectivePolicy(input: MergeInput): EffectivePolicy {
  const result = walk(input);
  const sorted = result.parts.map((part) => sortedPart(part, input.memo));
  const regular = canonicalUnion(
    sorted.map((s) => s.regular),
    input.memo,
    input.spliced,
  ).items;
  const exceptions = canonicalUnion(
    sorted.map((s) => s.exceptions),
    input.memo,
    input.spliced,
  ).items;
  const problems: string[] = [];
  if (regular.length > POLICY_LIMITS.rules)
    problems.push(`the effective policy would hold ${regular.length} rules; the policy's rule limit is ${POLICY_LIMITS.rules}`);
  if (exceptions.length > POLICY_LIMITS.exceptions)
    problems.push(`the effective policy would hold ${exceptions.length} exceptions; the policy's exception limit is ${POLICY_LIMITS.exceptions}`);
  return {
    document: buildDocument(input, result.applied, result.chosen, regular, exceptions),
    nextChangeAt: Number.isFinite(result.nextChange) ? new Date(result.nextChange).toISOString() : null,
    problems,
  };
}

/** Which assignment each effective setting and rule came from, and which rules were left out and why. */
export function explainEffectivePolicy(input: MergeInput): Explanation {
  const rules: RuleOrigin[] = [];
  const shadowed: Explanation['shadowed'] = [];
  const excluded: Explanation['excluded'] = [];
  const { applied, settings } = walk(input, {
    included: (record, from, key) => rules.push(originOf(record, from, key)),
    shadowed: (record, from, key, by) => shadowed.push({ ...originOf(record, from, key), by }),
    excluded: (record, from, why) => excluded.push({ ...originOf(record, from, matchKey(record.rule)), why }),
  });
  return { groups: [...input.groups].sort(byString), applied, settings, rules: sortByKey(rules), shadowed: sortByKey(shadowed), excluded: sortByKey(excluded) };
}

function originOf(record: RuleRecord, from: AssignmentRef, match: string): RuleOrigin {
  return {
    key: recordKey(record),
    matchKey: match,
    from,
    author: record.author,
    origin: record.origin,
    ...(record.reason !== undefined ? { reason: record.reason } : {}),
    addedAt: record.addedAt,
    ...(record.expiresAt !== undefined ? { expiresAt: record.expiresAt } : {}),
  };
}

function sortByKey<T extends RuleOrigin>(list: T[]): T[] {
  return list.sort((a, b) => byString(a.key, b.key) || byString(a.from.policy, b.from.policy));
}

function buildDocument(
  input: MergeInput,
  applied: AssignmentRef[],
  chosen: Map<SettingName, unknown>,
  rules: AppRule[],
  exceptions: AppException[],
): PolicyDocument {
  const title = mainTitle(applied, input.titles);
  const document: PolicyDocument = {
    format: 'vigil-policy/1',
    name: input.name ?? title?.displayName ?? defaultName(applied),
    ...(title?.description ? { description: title.description } : {}),
    agent: (chosen.get('agent') as PolicyDocument['agent'] | undefined) ?? { heartbeatSeconds: 30, statusSeconds: 60 },
  };
  for (const section of ['aup', 'session', 'usb', 'activity', 'tray'] as const) {
    const value = chosen.get(section);
    if (value !== undefined) (document as Record<string, unknown>)[section] = value;
  }
  const mode = chosen.get('applications.mode') as Applications['mode'] | undefined;
  const defaultAction = chosen.get('applications.defaultAction') as Applications['defaultAction'] | undefined;
  const linuxMarks = chosen.get('applications.linuxMarks') as string[] | undefined;
  // No applications section at all means "no exec gate", as in a hand-written document.
  if (mode !== undefined || defaultAction !== undefined || linuxMarks !== undefined || rules.length > 0 || exceptions.length > 0) {
    document.applications = {
      mode: mode ?? 'monitor',
      defaultAction: defaultAction ?? 'allow',
      rules,
      exceptions,
      ...(linuxMarks !== undefined ? { linuxMarks } : {}),
    };
  }
  return document;
}

function mainTitle(applied: AssignmentRef[], titles?: ReadonlyMap<string, PolicyTitle>): PolicyTitle | undefined {
  // `applied` is in precedence order, highest first, the baseline last.
  const main = applied.find((a) => a.policy !== APPROVALS_POLICY) ?? applied.at(-1);
  return main && titles?.get(main.policy);
}

function defaultName(applied: AssignmentRef[]): string {
  const name = applied
    .map((a) => a.policy)
    .reverse()
    .join(' + ');
  return name.length <= 120 ? name : `${name.slice(0, 119)}…`;
}

/** Groups some assignment or some scoped rule mentions: only these can change a merge. */
export function groupsThatMatter(policies: ReadonlyMap<string, PolicyContent>, assignments: AssignmentSet): Set<string> {
  const groups = new Set(assignments.assignments.map((a) => a.group));
  for (const content of policies.values()) for (const record of content.rules) for (const g of record.rule.groups ?? []) groups.add(g);
  return groups;
}

/**
 * The key of the signed bundle a device receives: devices whose groups agree on every group that
 * matters have the same effective policy, and share one bundle and one signature.
 */
export function groupSetKey(deviceGroups: readonly string[], matter: ReadonlySet<string>): string {
  return JSON.stringify(deviceGroups.filter((g) => matter.has(g)).sort(byString));
}

/** What `vigil policy explain DEVICE` prints: the device's groups and why, then the explanation. */
export function formatExplanation(explanation: Explanation, memberships: readonly { group: string; reasons: readonly { kind: string }[] }[]): string {
  const where = (ref: AssignmentRef | null) =>
    ref === null
      ? 'not set (agent default)'
      : ref.group === null
        ? `${ref.policy} (baseline)`
        : `${ref.policy} (group ${ref.group}, precedence ${ref.precedence})`;
  const lines = [
    `Groups: ${memberships.length === 0 ? 'none' : memberships.map((m) => `${m.group} (${m.reasons.map((r) => r.kind).join(', ')})`).join('; ')}`,
    `Policies applied, highest precedence first: ${explanation.applied.map(where).join(', ')}`,
    'Settings:',
    ...explanation.settings.map((s) => `  ${s.setting}: ${where(s.from)}`),
    `Rules: ${explanation.rules.length} delivered, ${explanation.shadowed.length} shadowed, ${explanation.excluded.length} left out`,
    ...explanation.rules.map((r) => `  ${r.key} from ${where(r.from)}; ${r.origin} by ${r.author}${r.reason ? `: ${r.reason}` : ''}`),
    ...explanation.shadowed.map((r) => `  shadowed ${r.key} in ${r.from.policy} by ${where(r.by)}`),
    ...explanation.excluded.map(
      (r) => `  left out ${r.key} in ${r.from.policy}: ${r.why === 'expired' ? `expired ${r.expiresAt}` : 'scoped to groups this device is not in'}`,
    ),
  ];
  return lines.join('\n');
}
