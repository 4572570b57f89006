import { canonicalJson } from '../canonical-json.js';
import { SETTING_NAMES, settingValue, type PolicyContent, type RuleRecord, type SettingName } from './model.js';
import { recordKey } from './rule-keys.js';

/**
 * Differences between two contents of a named policy (browser-safe, pure): between two
 * revisions, and between a policy and a file about to be pushed onto it. Rules are matched by
 * their record key (rule-keys.ts), so a rule whose action, description, reason or expiry
 * changed is "changed", not removed and added.
 */

export interface RuleChange {
  key: string;
  before: RuleRecord;
  after: RuleRecord;
  /** Which parts differ: `action`, `description`, `id`, `reason`, `expiresAt`, ... */
  fields: string[];
}

export interface SettingChange {
  setting: SettingName;
  before: unknown;
  after: unknown;
}

export interface PolicyDiff {
  rules: { added: RuleRecord[]; removed: RuleRecord[]; changed: RuleChange[] };
  settings: SettingChange[];
}

/** The parts of a rule record a revision diff compares; who added it and when is not a change. */
function ruleFields(record: RuleRecord): Record<string, unknown> {
  const { groups: _scope, kind: _kind, ...rule } = record.rule as Record<string, unknown>;
  return { ...rule, reason: record.reason, expiresAt: record.expiresAt };
}

/** What a record makes devices do: its reason counts only for an exception, which carries it. */
function effectOf(record: RuleRecord): string {
  const { reason, ...fields } = ruleFields(record);
  return canonicalJson(record.exception ? { ...fields, reason } : fields);
}

const byKey = (rules: readonly RuleRecord[]) => new Map(rules.map((r) => [recordKey(r), r]));
const sortKeys = <T extends { key: string }>(list: T[]) => list.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));

export function diffPolicyContent(before: PolicyContent, after: PolicyContent): PolicyDiff {
  const old = byKey(before.rules);
  const next = byKey(after.rules);
  const added: RuleRecord[] = [];
  const removed: RuleRecord[] = [];
  const changed: RuleChange[] = [];
  for (const [key, record] of next) {
    const was = old.get(key);
    if (!was) {
      added.push(record);
      continue;
    }
    const a = ruleFields(was);
    const b = ruleFields(record);
    const fields = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((f) => canonicalJson(a[f] ?? null) !== canonicalJson(b[f] ?? null)).sort();
    if (fields.length > 0) changed.push({ key, before: was, after: record, fields });
  }
  for (const [key, record] of old) if (!next.has(key)) removed.push(record);
  const keyed = (r: RuleRecord) => ({ key: recordKey(r), r });
  const sortRecords = (list: RuleRecord[]) => sortKeys(list.map(keyed)).map(({ r }) => r);

  const settings: SettingChange[] = [];
  for (const setting of SETTING_NAMES) {
    const a = settingValue(before.settings, setting);
    const b = settingValue(after.settings, setting);
    if (canonicalJson(a ?? null) !== canonicalJson(b ?? null)) settings.push({ setting, before: a, after: b });
  }
  return { rules: { added: sortRecords(added), removed: sortRecords(removed), changed: sortKeys(changed) }, settings };
}

export function isEmptyDiff(diff: PolicyDiff): boolean {
  return diff.rules.added.length + diff.rules.removed.length + diff.rules.changed.length + diff.settings.length === 0;
}

/** Rules added one at a time on the console (or by approving an app request). */
export const isConsoleRule = (record: RuleRecord) => record.origin === 'console' || record.origin === 'approval';

export type PushMode =
  /** Refuse if the push would remove or change a console-added rule (the default). */
  | 'refuse'
  /** Keep the console-added rules the file does not mention; the file decides the rest. */
  | 'keep-console-rules'
  /** Replace everything, console-added rules included, because the pusher said so. */
  | 'replace';

export type PushPlan = { ok: true; content: PolicyContent; diff: PolicyDiff } | { ok: false; dropped: RuleRecord[]; overridden: RuleChange[] };

/**
 * What a file push does to a named policy. The file's rules replace the policy's; a rule added
 * on the console that the file would remove or change is never lost silently: the push is
 * refused naming them, unless the pusher chose to keep them or to replace them.
 */
export function planPush(current: PolicyContent, pushed: PolicyContent, mode: PushMode): PushPlan {
  // A console rule the file repeats with the same effect stays a console rule, with its author and reason,
  // so that a later push without it is still refused.
  const consoleRules = new Map(current.rules.filter(isConsoleRule).map((r) => [recordKey(r), r]));
  let content: PolicyContent = {
    ...pushed,
    rules: pushed.rules.map((r) => {
      const held = consoleRules.get(recordKey(r));
      return held && effectOf(held) === effectOf(r) ? held : r;
    }),
  };
  if (mode === 'keep-console-rules') {
    const inFile = new Set(pushed.rules.map(recordKey));
    content = { ...content, rules: [...content.rules, ...current.rules.filter((r) => isConsoleRule(r) && !inFile.has(recordKey(r)))] };
  }
  const diff = diffPolicyContent(current, content);
  if (mode === 'refuse') {
    const dropped = diff.rules.removed.filter(isConsoleRule);
    const overridden = diff.rules.changed.filter((c) => isConsoleRule(c.before));
    if (dropped.length > 0 || overridden.length > 0) return { ok: false, dropped, overridden };
  }
  return { ok: true, content, diff };
}
