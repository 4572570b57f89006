import { z } from 'zod';
import type { AppRule } from '../app-rules.js';
import { summariseZodError } from '../zod-errors.js';
import { checkedRule, ImportError, type RuleImport } from './import.js';
import { parseJsonWithLines } from './json-lines.js';

/**
 * Santa rules as its sync protocol and `santactl rule --import/--export` write them:
 * `{"rules": [{"identifier", "policy", "rule_type", ...}]}` (a bare array is accepted too).
 * BINARY rules are SHA-256 of the file, the same as Vigil's; TEAMID and SIGNINGID become macOS
 * signer rules. CERTIFICATE (a leaf certificate's hash) and CDHASH have no Vigil equivalent yet
 * and are reported.
 */
export const SantaRuleSchema = z.looseObject({
  identifier: z.string().min(1).max(1024),
  policy: z.string().max(64),
  rule_type: z.string().max(64),
  custom_msg: z.string().max(2000).optional(),
  comment: z.string().max(2000).optional(),
});
export type SantaRule = z.infer<typeof SantaRuleSchema>;
export const SantaRulesFileSchema = z.union([z.looseObject({ rules: z.array(z.unknown()).max(200_000) }), z.array(z.unknown()).max(200_000)]);

const KNOWN_KEYS = new Set(['identifier', 'policy', 'rule_type', 'custom_msg', 'comment']);

export function importSanta(text: string): RuleImport {
  const { value: data, lines } = parseJsonWithLines(text.replace(/^\uFEFF/, ''));
  const file = SantaRulesFileSchema.safeParse(data);
  if (!file.success) throw new ImportError(`not a Santa rules file: ${summariseZodError(file.error)}`, 1);
  const list = Array.isArray(file.data) ? file.data : file.data.rules;
  const result: RuleImport = { rules: [], exceptions: [], notes: [] };
  const topLevel = Array.isArray(file.data) ? [] : Object.keys(file.data).filter((k) => k !== 'rules');
  if (topLevel.length) result.notes.push({ line: 1, message: `ignored top-level field(s) ${topLevel.join(', ')}` });
  list.forEach((raw, n) => {
    const line = (typeof raw === 'object' && raw !== null ? lines.get(raw) : undefined) ?? lines.get(list) ?? 1;
    const parsed = SantaRuleSchema.safeParse(raw);
    if (!parsed.success) throw new ImportError(`rule ${n + 1}: ${summariseZodError(parsed.error)}`, line);
    const rule = parsed.data;
    const extra = Object.keys(rule).filter((k) => !KNOWN_KEYS.has(k));
    if (extra.length) result.notes.push({ line, message: `rule ${n + 1}: ignored field(s) ${extra.join(', ')}` });
    const converted = convert(rule, (message) => result.notes.push({ line, message: `rule ${n + 1} (${rule.rule_type} ${rule.identifier.slice(0, 80)}): ${message}` }));
    if (converted) result.rules.push(checkedRule(converted, line));
  });
  return result;
}

function convert(rule: SantaRule, note: (message: string) => void): Record<string, unknown> | null {
  let action: 'allow' | 'block';
  switch (rule.policy.toUpperCase()) {
    case 'ALLOWLIST':
    case 'WHITELIST':
      action = 'allow';
      break;
    case 'ALLOWLIST_COMPILER':
    case 'WHITELIST_COMPILER':
      note('a compiler rule: imported as a plain allow (Vigil does not allow a compiler\'s output transitively)');
      action = 'allow';
      break;
    case 'BLOCKLIST':
    case 'BLACKLIST':
      action = 'block';
      break;
    case 'SILENT_BLOCKLIST':
    case 'SILENT_BLACKLIST':
      note('a silent block: imported as a block, which Vigil always reports');
      action = 'block';
      break;
    default:
      note(`policy ${rule.policy} is not supported; not imported`);
      return null;
  }
  const description = rule.custom_msg ?? rule.comment;
  const common = { action, ...(description ? { description: description.slice(0, 500) } : {}) };
  switch (rule.rule_type.toUpperCase()) {
    case 'BINARY':
      return { ...common, kind: 'sha256', sha256: rule.identifier.toLowerCase() };
    case 'TEAMID':
      return { ...common, kind: 'signer', teamId: rule.identifier };
    case 'SIGNINGID': {
      const colon = rule.identifier.indexOf(':');
      const team = rule.identifier.slice(0, colon);
      if (colon < 1 || team === 'platform') {
        note('platform (Apple) signing ids are not supported; not imported');
        return null;
      }
      return { ...common, kind: 'signer', teamId: team, signingId: rule.identifier.slice(colon + 1) };
    }
    default:
      note(`rule type ${rule.rule_type} has no Vigil equivalent yet; not imported`);
      return null;
  }
}

/** Santa JSON for the rules Santa can express (hash and macOS signer rules); the rest is listed. */
export function exportSanta(rules: readonly AppRule[]): { json: string; notes: { ruleId: string | null; message: string }[] } {
  const out: SantaRule[] = [];
  const notes: { ruleId: string | null; message: string }[] = [];
  for (const rule of rules) {
    const policy = rule.action === 'allow' ? 'ALLOWLIST' : 'BLOCKLIST';
    const msg = rule.description ? { custom_msg: rule.description } : {};
    if (rule.kind === 'sha256') out.push({ identifier: rule.sha256, policy, rule_type: 'BINARY', ...msg });
    else if (rule.kind === 'signer' && rule.teamId && rule.signingId) out.push({ identifier: `${rule.teamId}:${rule.signingId}`, policy, rule_type: 'SIGNINGID', ...msg });
    else if (rule.kind === 'signer' && rule.teamId) out.push({ identifier: rule.teamId, policy, rule_type: 'TEAMID', ...msg });
    else notes.push({ ruleId: rule.id ?? null, message: `a ${rule.kind} rule${rule.kind === 'signer' ? ' for Windows' : ''} has no Santa equivalent` });
  }
  return { json: `${JSON.stringify({ rules: out }, null, 2)}\n`, notes };
}
