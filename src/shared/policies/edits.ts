import type { AppRule } from '../app-rules.js';
import { POLICY_LIMITS } from '../policy-limits.js';
import { PolicyContentSchema, RuleRecordSchema, type AssignmentSet, type PolicyContent, type PolicyRevision, type RuleRecord } from './model.js';
import { recordKey } from './rule-keys.js';
import { summariseZodError } from '../zod-errors.js';

/**
 * Single-rule edits and revisions of a named policy (browser-safe, pure). Every edit returns the
 * whole new content, which the console stores as the next revision; a rollback is a new revision
 * carrying an older one's content, so revision numbers (and the versions devices see) only grow.
 */

export class PolicyEditError extends Error {
  constructor(
    readonly code: 'exists' | 'not-found' | 'invalid' | 'no-such-revision',
    message: string,
  ) {
    super(message);
  }
}

function valid(content: PolicyContent): PolicyContent {
  const parsed = PolicyContentSchema.safeParse(content);
  if (!parsed.success) throw new PolicyEditError('invalid', `the policy would not be valid: ${summariseZodError(parsed.error)}`);
  return parsed.data;
}

/**
 * Adds a rule; one the policy already has (same key) is an error unless `replace` says to change it.
 * Only the new record is checked: the rest was valid when stored, and checking 100,000 records
 * again for one added would hold the console's event loop for most of a second.
 */
export function addRule(content: PolicyContent, record: RuleRecord, opts: { replace?: boolean } = {}): { content: PolicyContent; replaced: RuleRecord | null } {
  const parsed = RuleRecordSchema.safeParse(record);
  if (!parsed.success) throw new PolicyEditError('invalid', `the policy would not be valid: ${summariseZodError(parsed.error)}`);
  const checked = parsed.data;
  const key = recordKey(checked);
  const index = content.rules.findIndex((r) => recordKey(r) === key);
  if (index >= 0 && !opts.replace) throw new PolicyEditError('exists', `the policy already has rule ${key}; change it instead`);
  const rules = index >= 0 ? content.rules.map((r, i) => (i === index ? checked : r)) : [...content.rules, checked];
  // Over the rule limit: the whole check names the limit as every other path does.
  if (rules.length > POLICY_LIMITS.rules) valid({ ...content, rules });
  return { content: { ...content, rules }, replaced: index >= 0 ? content.rules[index]! : null };
}

/**
 * Adds many rules at once (an imported file): each replaces the policy's rule with the same key
 * or is appended, and the result is checked once, so an import stays linear in the policy size.
 */
export function addRules(content: PolicyContent, records: readonly RuleRecord[]): PolicyContent {
  const index = new Map(content.rules.map((r, i) => [recordKey(r), i]));
  const rules = [...content.rules];
  for (const record of records) {
    const key = recordKey(record);
    const at = index.get(key);
    if (at === undefined) index.set(key, rules.push(record) - 1);
    else rules[at] = record;
  }
  return valid({ ...content, rules });
}

/** Finds a rule by its record key or by the `id` given to it. */
export function findRule(content: PolicyContent, keyOrId: string): RuleRecord | undefined {
  return content.rules.find((r) => recordKey(r) === keyOrId) ?? content.rules.find((r) => r.rule.id === keyOrId);
}

export function removeRule(content: PolicyContent, keyOrId: string): { content: PolicyContent; removed: RuleRecord } {
  const removed = findRule(content, keyOrId);
  if (!removed) throw new PolicyEditError('not-found', `the policy has no rule ${keyOrId}`);
  return { content: { ...content, rules: content.rules.filter((r) => r !== removed) }, removed };
}

/** The rule that approving an app request writes, in the policy chosen at approval. */
export function approvalRecord(rule: AppRule, opts: { by: string; at: string; requestId: string; reason: string; expiresAt?: string }): RuleRecord {
  return {
    rule,
    // With an expiry the approval is time-boxed, as today: an exception lapses on the device itself.
    exception: opts.expiresAt !== undefined,
    author: opts.by,
    reason: opts.reason.slice(0, 500),
    addedAt: opts.at,
    ...(opts.expiresAt ? { expiresAt: opts.expiresAt } : {}),
    origin: 'approval',
    requestId: opts.requestId,
  };
}

type RevisionMeta = Pick<PolicyRevision, 'author' | 'at' | 'change'> & { reason?: string; rolledBackTo?: number };

export function nextRevision(latest: Pick<PolicyRevision, 'policy' | 'revision'>, content: PolicyContent, meta: RevisionMeta): PolicyRevision {
  return { policy: latest.policy, revision: latest.revision + 1, ...meta, content };
}

/** A new revision with an older revision's content. */
export function rollbackRevision(history: readonly PolicyRevision[], to: number, meta: Omit<RevisionMeta, 'change' | 'rolledBackTo'>): PolicyRevision {
  const target = history.find((r) => r.revision === to);
  if (!target) throw new PolicyEditError('no-such-revision', `policy has no revision ${to}`);
  const latest = history.reduce((a, b) => (b.revision > a.revision ? b : a));
  return nextRevision(latest, target.content, { ...meta, change: 'rollback', rolledBackTo: to });
}

export interface GroupReferences {
  assignments: { policy: string; precedence: number }[];
  /** Policies with rules scoped to the group, and how many. */
  scopedRules: { policy: string; count: number }[];
}

/** What names a group: deleting it is refused while anything does, with this list in the answer. */
export function groupReferences(name: string, policies: ReadonlyMap<string, PolicyContent>, assignments: AssignmentSet): GroupReferences {
  return {
    assignments: assignments.assignments.filter((a) => a.group === name).map((a) => ({ policy: a.policy, precedence: a.precedence })),
    scopedRules: [...policies]
      .map(([policy, content]) => ({ policy, count: content.rules.filter((r) => r.rule.groups?.includes(name)).length }))
      .filter((p) => p.count > 0),
  };
}

/**
 * Renaming a group renames it wherever it is named, so no assignment or scoped rule silently stops
 * applying: the new assignments, and the new content of each policy that changed (each a revision).
 */
export function renameGroupEverywhere(
  from: string,
  to: string,
  policies: ReadonlyMap<string, PolicyContent>,
  assignments: AssignmentSet,
): { assignments: AssignmentSet; changedPolicies: Map<string, PolicyContent> } {
  const rename = (groups: string[]) => [...new Set(groups.map((g) => (g === from ? to : g)))];
  const changedPolicies = new Map<string, PolicyContent>();
  for (const [policy, content] of policies) {
    if (!content.rules.some((r) => r.rule.groups?.includes(from))) continue;
    const rules = content.rules.map((r) => (r.rule.groups?.includes(from) ? { ...r, rule: { ...r.rule, groups: rename(r.rule.groups) } } : r));
    changedPolicies.set(policy, valid({ ...content, rules }));
  }
  return { assignments: { ...assignments, assignments: assignments.assignments.map((a) => (a.group === from ? { ...a, group: to } : a)) }, changedPolicies };
}
