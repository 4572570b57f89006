import type { AppRule } from '../app-rules.js';

/**
 * Names for rules (browser-safe).
 *
 * `matchKey` names what a rule matches — the program identity — whatever it then does: two
 * rules with one match key are about the same programs, and the policy merge lets the
 * higher-precedence assignment decide between them. `recordKey` adds what makes two records on
 * one policy different rules although they match the same programs: being an exception and
 * being scoped to groups, and for exceptions the action (a block exception until Friday and an
 * allow exception until the end of term are two rules: each decides while it is the live one).
 * A regular rule's action is not part of its key: changing it changes the rule. Each variable part is hex or JSON, which delimits itself, so different
 * rules never share a key.
 */
export function matchKey(rule: AppRule): string {
  switch (rule.kind) {
    case 'sha256':
      return `sha256:${rule.sha256}`;
    case 'authenticode-sha256':
      return `authenticode-sha256:${rule.hash}`;
    case 'signer':
      return `signer:${JSON.stringify([rule.publisher ?? null, rule.product ?? null, rule.binaryName ?? null, rule.teamId ?? null, rule.signingId ?? null])}`;
    case 'path':
      return `path:${JSON.stringify([rule.platform, rule.pattern])}`;
  }
}

export interface KeyedRecord {
  rule: AppRule;
  exception: boolean;
}

export function recordKey(record: KeyedRecord): string {
  const scope = record.rule.groups ? `@${JSON.stringify([...new Set(record.rule.groups)].sort())}` : '';
  return `${matchKey(record.rule)}${record.exception ? `#exception-${record.rule.action}` : ''}${scope}`;
}
