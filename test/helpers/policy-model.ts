import type { AppRuleInput } from '../../src/shared/app-rules.js';
import { AppRuleSchema } from '../../src/shared/app-rules.js';
import type { AssignmentSet, PolicyContent, PolicySettings, RuleRecord } from '../../src/shared/policies/model.js';

/** Builders for the policy model in tests: short to write, always schema-valid. */

export const AT = '2026-12-01T09:00:00.000Z';
export const hex = (n: number) => n.toString(16).padStart(64, '0');

export function rec(rule: AppRuleInput, extra: Partial<Omit<RuleRecord, 'rule'>> = {}): RuleRecord {
  return { rule: AppRuleSchema.parse(rule), exception: false, author: 'tester', addedAt: AT, origin: 'file', ...extra };
}
export const hashRule = (n: number, action: 'allow' | 'block' = 'allow', extra: Partial<AppRuleInput> = {}) =>
  ({ kind: 'sha256', sha256: hex(n), action, ...extra }) as AppRuleInput;

export function content(rules: RuleRecord[] = [], settings: PolicySettings = {}): PolicyContent {
  return { settings, rules };
}
export function policies(entries: Record<string, PolicyContent>): Map<string, PolicyContent> {
  return new Map(Object.entries(entries));
}
export function assignments(baseline: string, list: [policy: string, group: string, precedence: number][] = []): AssignmentSet {
  return { baseline, assignments: list.map(([policy, group, precedence]) => ({ policy, group, precedence })) };
}

/** A plain allow/block rule record for the SHA-256 `hex(n)`, built without the schema (fast at 100,000). */
export const hashRecord = (n: number, action: 'allow' | 'block' = 'allow'): RuleRecord => ({
  rule: { kind: 'sha256', sha256: hex(n), action },
  exception: false,
  author: 'tester',
  addedAt: AT,
  origin: 'file',
});
