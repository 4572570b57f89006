import type { AppRule } from '../../src/shared/app-rules.js';
import type { z } from 'zod';
import type { PolicyDiffSchema } from '../../src/shared/policies/api.js';
import type { RuleRecord } from '../../src/shared/policies/model.js';

/** Rules and differences between revisions in words, for the table, the diff lists and explain. */

export interface RuleCells {
  kind: string;
  what: string;
  action: string;
  groups: string;
  expires: string;
  reason: string;
}

const KIND: Record<AppRule['kind'], string> = {
  sha256: 'Hash',
  'authenticode-sha256': 'Authenticode hash',
  signer: 'Signer',
  path: 'Path',
};

/** What program a rule names, in one line. */
export function ruleSubject(rule: AppRule): string {
  switch (rule.kind) {
    case 'sha256':
      return rule.sha256;
    case 'authenticode-sha256':
      return rule.fileName ? `${rule.hash} (${rule.fileName})` : rule.hash;
    case 'signer':
      return [rule.publisher ?? `Team ID ${rule.teamId}`, rule.product, rule.binaryName, rule.signingId].filter(Boolean).join(' · ');
    case 'path':
      return rule.platform === 'windows' ? `${rule.pattern} (Windows)` : rule.pattern;
  }
}

export function ruleCells(record: RuleRecord): RuleCells {
  const r = record.rule;
  return {
    kind: `${KIND[r.kind]}${record.exception ? ' (exception)' : ''}`,
    what: r.description ? `${ruleSubject(r)} — ${r.description}` : ruleSubject(r),
    action: r.action === 'allow' ? 'Allow' : 'Block',
    groups: r.groups?.join(', ') ?? 'All devices',
    expires: record.expiresAt ? new Date(record.expiresAt).toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'short' }) : 'Never',
    reason: `${record.reason ? `${record.reason} · ` : ''}${record.author} (${record.origin})`,
  };
}

/** A one-line statement of a rule: "Block hash 1111… on lab (expires …)". */
export function ruleSentence(record: RuleRecord): string {
  const c = ruleCells(record);
  const scope = record.rule.groups ? ` on ${c.groups}` : '';
  const expiry = record.expiresAt ? ` until ${c.expires}` : '';
  return `${c.action} ${c.kind.toLowerCase()} ${c.what}${scope}${expiry}`;
}

const settingText = (value: unknown) => (value === undefined ? 'not set' : JSON.stringify(value));

/** A diff as lines: "+ …" added, "− …" removed, "~ …" changed, each with its kind for styling. */
/** A diff as the console sends it (and as diffPolicyContent makes it in the page). */
export type ShownDiff = z.infer<typeof PolicyDiffSchema>;

export function diffLines(diff: ShownDiff): { sign: 'added' | 'removed' | 'changed'; text: string }[] {
  return [
    ...diff.rules.added.map((r) => ({ sign: 'added' as const, text: `Add: ${ruleSentence(r)}` })),
    ...diff.rules.removed.map((r) => ({ sign: 'removed' as const, text: `Remove: ${ruleSentence(r)}` })),
    ...diff.rules.changed.map((c) => ({
      sign: 'changed' as const,
      text: `Change (${c.fields.join(', ')}): ${ruleSentence(c.before)} → ${ruleSentence(c.after)}`,
    })),
    ...diff.settings.map((s) => ({
      sign: 'changed' as const,
      text: `Setting ${s.setting}: ${settingText(s.before)} → ${settingText(s.after)}`,
    })),
  ];
}
