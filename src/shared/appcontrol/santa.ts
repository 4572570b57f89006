import { z } from 'zod';
import type { AppAction, AppRule } from '../app-rules.js';
import { addRule, ImportError, type RuleImport } from './import.js';
import { parseJsonWithLines } from './json-lines.js';

/**
 * Santa rules as its sync protocol and `santactl rule --import/--export` write them:
 * `{"rules": [{"identifier", "policy", "rule_type", ...}]}` (a bare array is accepted too).
 * Read as leniently as Santa's own parser (SNTRule) reads them: field names in any case, policy
 * and rule type in any case, the hash under `sha256` where `identifier` is absent or empty (the
 * older sync protocol), the deprecated policy names (WHITELIST, BLACKLIST, ...), and text fields
 * that are empty or not text ignored. BINARY rules are SHA-256 of the file, the same as Vigil's;
 * TEAMID and SIGNINGID become macOS signer rules. Whatever Vigil cannot enforce exactly
 * (CERTIFICATE, CDHASH, CEL, local-approval and REMOVE entries, silent blocks, custom URLs) is a
 * note on the rule's line.
 */
export interface SantaRule {
  identifier: string;
  policy: string;
  rule_type: string;
  custom_msg?: string;
  comment?: string;
}

const SantaRulesFileSchema = z.union([z.looseObject({ rules: z.array(z.unknown()) }), z.array(z.unknown())]);

/** The fields SNTRule reads, by their (lower-case) names. */
const TEXT_FIELDS = ['custom_msg', 'custom_url', 'event_detail_button_label', 'comment', 'cel_expr'] as const;
const KNOWN_KEYS = new Set<string>(['identifier', 'sha256', 'policy', 'rule_type', ...TEXT_FIELDS]);
const MAX_IDENTIFIER = 1024;

type Policy = { action: AppAction; note?: string } | { skip: string };
const SILENT: Policy = { action: 'block', note: 'a silent block: imported as a block, which Vigil always reports and shows the pupil' };
const COMPILER: Policy = { action: 'allow', note: "a compiler rule: imported as a plain allow (Vigil does not allow a compiler's output transitively)" };
const LOCAL: Policy = { skip: 'a local-approval rule (Santa lets the machine approve the program itself); Vigil has no local approval, not imported' };
/** Every policy SNTRule accepts, the deprecated names included. */
const POLICIES: Record<string, Policy> = {
  ALLOWLIST: { action: 'allow' },
  WHITELIST: { action: 'allow' },
  ALLOWLIST_COMPILER: COMPILER,
  WHITELIST_COMPILER: COMPILER,
  ALLOWLIST_LOCAL_BINARY: LOCAL,
  ALLOWLIST_LOCAL_SIGNINGID: LOCAL,
  BLOCKLIST: { action: 'block' },
  BLACKLIST: { action: 'block' },
  SILENT_BLOCKLIST: SILENT,
  SILENT_BLACKLIST: SILENT,
  SILENT_GUI_BLOCKLIST: SILENT,
  SILENT_TTY_BLOCKLIST: SILENT,
  REMOVE: { skip: "a REMOVE entry deletes a rule from Santa's database; an import is a whole rule set, so there is nothing to remove" },
  CEL: { skip: 'a CEL rule (cel_expr) has no Vigil equivalent; not imported' },
};

export function importSanta(text: string): RuleImport {
  const { value: data, lines } = parseJsonWithLines(text.replace(/^\uFEFF/, ''));
  const file = SantaRulesFileSchema.safeParse(data);
  if (!file.success) throw new ImportError('not a Santa rules file: expected {"rules": [...]} or a list of rules', lines.get(data as object) ?? 1);
  const list = Array.isArray(file.data) ? file.data : file.data.rules;
  const result: RuleImport = { rules: [], exceptions: [], notes: [] };
  const topLevel = Array.isArray(file.data) ? [] : Object.keys(file.data).filter((k) => k !== 'rules');
  if (topLevel.length) result.notes.push({ line: 1, message: `ignored top-level field(s) ${topLevel.join(', ')}` });
  list.forEach((raw, n) => {
    const line = (typeof raw === 'object' && raw !== null ? lines.get(raw) : undefined) ?? lines.get(list) ?? 1;
    const noteAt = (message: string) => result.notes.push({ line, message: `rule ${n + 1}: ${message}` });
    const rule = readRule(raw, n, line, noteAt);
    const converted = convert(rule, (message) => noteAt(`(${rule.rule_type} ${rule.identifier.slice(0, 80)}) ${message}`));
    if (converted) addRule(result, converted, line);
  });
  return result;
}

/** One entry as SNTRule reads it; what SNTRule would refuse is an error at its line. */
function readRule(raw: unknown, n: number, line: number, note: (message: string) => void): SantaRule {
  const fail = (message: string): never => {
    throw new ImportError(`rule ${n + 1}: ${message}`, line);
  };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return fail('not an object');
  const fields = new Map<string, unknown>();
  for (const [key, value] of Object.entries(raw)) {
    const name = key.toLowerCase();
    if (fields.has(name)) fail(`field "${name}" appears twice (names are not case-sensitive)`);
    fields.set(name, value);
  }
  const text = (name: string) => {
    const value = fields.get(name);
    return typeof value === 'string' && value.length > 0 ? value : undefined;
  };
  const identifier = text('identifier') ?? text('sha256') ?? fail('no identifier (nor a sha256) to name the program');
  if (identifier.length > MAX_IDENTIFIER) fail(`the identifier is longer than ${MAX_IDENTIFIER} characters`);
  if (text('identifier') && text('sha256') && text('sha256') !== identifier) note('has both identifier and sha256; the identifier is used, as Santa does');
  const policy = fields.get('policy');
  const ruleType = fields.get('rule_type');
  if (typeof policy !== 'string') fail('policy is missing or not text');
  if (typeof ruleType !== 'string') fail('rule_type is missing or not text');
  for (const name of TEXT_FIELDS) if (fields.has(name) && typeof fields.get(name) !== 'string') note(`${name} is not text; ignored (as Santa ignores it)`);
  const url = text('custom_url') ?? text('event_detail_button_label');
  if (url) note('custom_url / event_detail_button_label ignored: Vigil shows its own notice');
  if (text('cel_expr') && (policy as string).toUpperCase() !== 'CEL') note('cel_expr ignored: it belongs to CEL rules');
  const extra = [...fields.keys()].filter((k) => !KNOWN_KEYS.has(k));
  if (extra.length) note(`ignored field(s) ${extra.join(', ')}`);
  const message = text('custom_msg');
  const comment = text('comment');
  return {
    identifier,
    policy: (policy as string).toUpperCase(),
    rule_type: (ruleType as string).toUpperCase(),
    ...(message ? { custom_msg: message } : {}),
    ...(comment ? { comment } : {}),
  };
}

function convert(rule: SantaRule, note: (message: string) => void): Record<string, unknown> | null {
  const policy = POLICIES[rule.policy];
  if (!policy) {
    note(`policy ${rule.policy} is not one Santa knows; not imported`);
    return null;
  }
  if ('skip' in policy) {
    note(policy.skip);
    return null;
  }
  if (policy.note) note(policy.note);
  const description = rule.custom_msg ?? rule.comment;
  const common = { action: policy.action, ...(description ? { description: description.slice(0, 500) } : {}) };
  switch (rule.rule_type) {
    case 'BINARY':
      return { ...common, kind: 'sha256', sha256: rule.identifier.toLowerCase() };
    case 'TEAMID':
      return { ...common, kind: 'signer', teamId: rule.identifier.toUpperCase() };
    case 'SIGNINGID': {
      const colon = rule.identifier.indexOf(':');
      const team = rule.identifier.slice(0, colon);
      if (colon < 1 || team.toLowerCase() === 'platform') {
        note('platform (Apple) signing ids are not supported; not imported');
        return null;
      }
      return { ...common, kind: 'signer', teamId: team.toUpperCase(), signingId: rule.identifier.slice(colon + 1) };
    }
    case 'CERTIFICATE':
      note("a CERTIFICATE rule (the signing certificate's hash) has no Vigil equivalent yet; not imported");
      return null;
    case 'CDHASH':
      note('a CDHASH rule (the code directory hash) has no Vigil equivalent yet; not imported');
      return null;
    default:
      note(`rule type ${rule.rule_type} is not one Santa knows; not imported`);
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
    else if (rule.kind === 'signer' && rule.teamId && rule.signingId)
      out.push({ identifier: `${rule.teamId}:${rule.signingId}`, policy, rule_type: 'SIGNINGID', ...msg });
    else if (rule.kind === 'signer' && rule.teamId) out.push({ identifier: rule.teamId, policy, rule_type: 'TEAMID', ...msg });
    else notes.push({ ruleId: rule.id ?? null, message: `a ${rule.kind} rule${rule.kind === 'signer' ? ' for Windows' : ''} has no Santa equivalent` });
  }
  return { json: `${JSON.stringify({ rules: out }, null, 2)}\n`, notes };
}
