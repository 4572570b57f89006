import type { z } from 'zod';
import type { AppRuleInput } from '../../src/shared/app-rules.js';
import { RuleAddRequestSchema } from '../../src/shared/policies/api.js';
import type { RuleRecord } from '../../src/shared/policies/model.js';
import { localToIso, setFieldError } from '../shared/forms.js';

/**
 * The add / edit rule form. What it holds is checked in the browser with the console's own
 * request schema (RuleAddRequestSchema); each problem is written next to its field. Editing
 * keeps the rule's identity (kind and program) fixed: a different program is a different rule.
 */
export type RuleAddRequest = z.infer<typeof RuleAddRequestSchema>;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const value = (id: string) => $<HTMLInputElement>(id).value.trim();
const KINDS = ['sha256', 'signer', 'path'] as const;
type Kind = (typeof KINDS)[number];
const FIELDS = ['rule-sha256', 'rule-publisher', 'rule-teamid', 'rule-pattern', 'rule-description', 'rule-groups', 'rule-expires', 'rule-reason'];

/** The field an issue of the request schema belongs to (its path, most specific first). */
function fieldOf(path: readonly PropertyKey[], kind: Kind): string {
  const [top, second] = path.map(String);
  if (top === 'reason') return 'rule-reason';
  if (top === 'expiresAt') return 'rule-expires';
  if (top !== 'rule') return 'rule-reason';
  if (second === 'groups') return 'rule-groups';
  if (second === 'description') return 'rule-description';
  if (kind === 'sha256') return 'rule-sha256';
  if (kind === 'path') return 'rule-pattern';
  return second === 'teamId' ? 'rule-teamid' : 'rule-publisher';
}

export class RuleForm {
  /** The rule being edited (null: a new rule). */
  private editing: RuleRecord | null = null;

  constructor(private readonly now: () => number = Date.now) {
    $('rule-kind').addEventListener('change', () => this.showKind());
  }

  get kind(): Kind {
    return $<HTMLSelectElement>('rule-kind').value as Kind;
  }

  get editingRule(): RuleRecord | null {
    return this.editing;
  }

  open(record: RuleRecord | null): void {
    this.editing = record;
    const form = $<HTMLFormElement>('rule-form');
    form.reset();
    for (const id of FIELDS) setFieldError(id, '');
    $('rule-form-title').textContent = record ? 'Edit a rule' : 'Add a rule';
    const identity = ['rule-kind', 'rule-sha256', 'rule-publisher', 'rule-teamid', 'rule-pattern'];
    for (const id of identity) $<HTMLInputElement>(id).disabled = record !== null;
    if (record) {
      const r = record.rule;
      const set = (id: string, v: string | undefined) => ($<HTMLInputElement>(id).value = v ?? '');
      $<HTMLSelectElement>('rule-kind').value = r.kind === 'authenticode-sha256' ? 'sha256' : r.kind;
      if (r.kind === 'sha256') set('rule-sha256', r.sha256);
      if (r.kind === 'signer') (set('rule-publisher', r.publisher), set('rule-teamid', r.teamId));
      if (r.kind === 'path') set('rule-pattern', r.pattern);
      $<HTMLInputElement>(`rule-action-${r.action}`).checked = true;
      set('rule-description', r.description);
      set('rule-groups', r.groups?.join(', '));
      if (record.expiresAt) {
        const d = new Date(record.expiresAt);
        set('rule-expires', new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16));
      }
    }
    this.showKind();
    form.hidden = false;
    $('rule-form-title').focus();
  }

  close(): void {
    this.editing = null;
    $('rule-form').hidden = true;
  }

  /** The request the form describes, or null with every problem shown next to its field. */
  read(): RuleAddRequest | null {
    for (const id of FIELDS) setFieldError(id, '');
    const kind = this.kind;
    const action = ($<HTMLInputElement>('rule-action-block').checked ? 'block' : 'allow') as 'allow' | 'block';
    const groups = value('rule-groups')
      .split(',')
      .map((g) => g.trim())
      .filter(Boolean);
    const common = {
      action,
      ...(value('rule-description') ? { description: value('rule-description') } : {}),
      ...(groups.length ? { groups } : {}),
    };
    const editing = this.editing?.rule;
    const rule: AppRuleInput = editing
      ? { ...editing, ...common, ...(groups.length ? {} : { groups: undefined }), ...(value('rule-description') ? {} : { description: undefined }) }
      : kind === 'sha256'
        ? { kind, sha256: value('rule-sha256').toLowerCase(), ...common }
        : kind === 'path'
          ? { kind, platform: 'posix', pattern: value('rule-pattern'), ...common }
          : { kind, ...(value('rule-publisher') ? { publisher: value('rule-publisher') } : {}), ...(value('rule-teamid') ? { teamId: value('rule-teamid') } : {}), ...common };
    // An undefined key is not "absent" to a strict schema's output; drop them.
    for (const k of Object.keys(rule) as (keyof typeof rule)[]) if (rule[k] === undefined) delete rule[k];
    const expiresAt = localToIso($<HTMLInputElement>('rule-expires').value);
    const parsed = RuleAddRequestSchema.safeParse({ rule, reason: value('rule-reason'), ...(expiresAt ? { expiresAt } : {}), replace: this.editing !== null });
    const problems = new Map<string, string>();
    if (!parsed.success) for (const issue of parsed.error.issues) if (!problems.has(fieldOf(issue.path, kind))) problems.set(fieldOf(issue.path, kind), issue.message);
    // The console refuses an expiry in the past; say so here, next to the field.
    if (expiresAt && Date.parse(expiresAt) <= this.now()) problems.set('rule-expires', 'the expiry is in the past');
    if ($<HTMLInputElement>('rule-expires').value && !expiresAt) problems.set('rule-expires', 'not a date and time');
    for (const [id, message] of problems) setFieldError(id, message);
    const first = FIELDS.find((id) => problems.has(id));
    if (first) $(first).focus();
    return parsed.success && problems.size === 0 ? parsed.data : null;
  }

  private showKind(): void {
    for (const k of KINDS) $(`rule-kind-${k}`).hidden = k !== this.kind;
  }
}
