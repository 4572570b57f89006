import { z } from 'zod';
import { DeviceListResponseSchema } from '../../src/shared/api.js';
import {
  AssignmentsResponseSchema,
  ChangeResponseSchema,
  DiffResponseSchema,
  ExplainResponseSchema,
  GroupListResponseSchema,
  HistoryResponseSchema,
  PolicyListResponseSchema,
  PolicyResponseSchema,
  RevisionResponseSchema,
} from '../../src/shared/policies/api.js';
import { diffPolicyContent } from '../../src/shared/policies/diff.js';
import { ImportPreviewResponseSchema, ImportResponseSchema, RuleFileFormatSchema } from '../../src/shared/policies/import-api.js';
import { addRule } from '../../src/shared/policies/edits.js';
import type { AssignmentSet, NamedPolicy, PolicyContent, PolicySettings, RuleRecord } from '../../src/shared/policies/model.js';
import { recordKey } from '../../src/shared/policies/rule-keys.js';
import { roleAllows } from '../../src/shared/roles.js';
import { apiJson, el, row } from '../shared/console-api.js';
import { confirmAction, field } from '../shared/confirm.js';
import { button, setFieldError } from '../shared/forms.js';
import { watchScrollRegions } from '../shared/scroll-regions.js';
import { wireSession, type Me } from '../shared/sign-in.js';
import { RuleForm, type RuleAddRequest } from './rule-form.js';
import { RuleTable, type ListedRule } from './rule-table.js';
import { diffLines, type ShownDiff } from './rule-words.js';
import { fillSettings, readSettings } from './settings-form.js';

/**
 * The Policies pages (issue 13, docs/policies.md "In the browser"): the named policies with
 * where each applies; one policy's rules in a virtualised table with add, edit and remove, each
 * change shown as a diff before it is published; the policy's history with each revision's diff
 * and roll back; and "explain" for a device. Systems Managers and admins change, technicians
 * read (the controls are absent, and the console refuses anyway). Requests are checked with
 * the console's own schemas; server text is written with textContent only.
 */
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const SECTIONS = ['policies', 'policy', 'explain'];
/** At most this many lines of one diff are drawn; the rest are counted. */
const DIFF_LINES = 300;

let me: Me | null = null;
let canChange = false;
let policy: NamedPolicy | null = null;
const form = new RuleForm();
const table = new RuleTable($('rule-scroll'), $<HTMLTableSectionElement>('rule-rows'), $<HTMLTableRowElement>('rule-head'));

/** The change waiting for "Publish": what it sends, and its diff. */
type Pending =
  | { kind: 'add'; body: RuleAddRequest; replaces: ListedRule | null }
  | { kind: 'remove'; rule: ListedRule }
  | { kind: 'import'; format: z.infer<typeof RuleFileFormatSchema>; content: string; preview: z.infer<typeof ImportPreviewResponseSchema> }
  | { kind: 'settings'; settings: PolicySettings };
let pending: Pending | null = null;

// ---------------------------------------------------------------- session and routes

function showSignIn(): void {
  me = null;
  for (const id of [...SECTIONS, 'whoami']) $(id).hidden = true;
  $('sign-in').hidden = false;
}

function showApp(signedIn: Me): void {
  me = signedIn;
  canChange = roleAllows(me.role, 'policy:push');
  $('sign-in').hidden = true;
  $('whoami').hidden = false;
  $('whoami-name').textContent = `${me.username} (${me.role.replace('_', ' ')})`;
  $('rule-new').hidden = !canChange;
  $('policy-readonly').hidden = canChange;
  $('import').hidden = !canChange;
  table.allowEditing(canChange);
  void route();
}

async function route(): Promise<void> {
  if (!me) return;
  const open = /^#\/policy\/([a-z0-9][a-z0-9._-]{0,63})$/.exec(location.hash);
  $('policies').hidden = !!open;
  $('explain').hidden = !!open;
  $('policy').hidden = !open;
  if (!roleAllows(me.role, 'policy:read')) {
    $('policies').hidden = false;
    $('policy').hidden = true;
    $('explain').hidden = true;
    $('policies-error').textContent = 'Policies are not part of your role. Ask an administrator if you need them.';
    return;
  }
  if (open) await openPolicy(open[1]!);
  else {
    await Promise.all([loadList(), loadDevices()]);
    $('policies-title').focus();
  }
}

// ---------------------------------------------------------------- the list

async function loadList(): Promise<void> {
  const [list, assignments] = await Promise.all([
    apiJson(PolicyListResponseSchema, '/api/v1/named-policies'),
    apiJson(AssignmentsResponseSchema, '/api/v1/assignments'),
  ]);
  if (!list.ok || !assignments.ok) {
    $('policies-error').textContent = `The policies could not be loaded: ${!list.ok ? list.message : !assignments.ok ? assignments.message : ''}.`;
    return;
  }
  $('policies-error').textContent = '';
  const set = assignments.data.assignments;
  const policies = [...list.data.policies].sort((a, b) => Number(b.baseline) - Number(a.baseline) || a.name.localeCompare(b.name));
  $('policies-summary').textContent = `${policies.length} polic${policies.length === 1 ? 'y' : 'ies'}`;
  $('policies-empty').hidden = policies.length > 0;
  $('policy-rows').replaceChildren(
    ...policies.map((p) => {
      const link = el('a', p.displayName);
      link.href = `#/policy/${p.name}`;
      const name = el('span', p.name, 'sub');
      const cell = el('div');
      cell.append(link, name);
      const tr = row([cell, String(p.revision), p.rules.toLocaleString('en-GB'), appliesTo(p.name, set)]);
      tr.dataset.policy = p.name;
      return tr;
    }),
  );
}

function appliesTo(name: string, set: AssignmentSet | null): string {
  if (!set) return 'Not assigned';
  const parts = set.assignments
    .filter((a) => a.policy === name)
    .sort((a, b) => b.precedence - a.precedence)
    .map((a) => `${a.group} (${a.precedence})`);
  if (set.baseline === name) parts.push('every device (baseline, lowest)');
  return parts.join(', ') || 'Not assigned';
}

// ---------------------------------------------------------------- one policy

async function openPolicy(name: string): Promise<void> {
  closePending();
  form.close();
  $('revision').hidden = true;
  $('policy-result').textContent = '';
  $('policy-title').textContent = name;
  $('policy-summary').textContent = 'Loading…';
  const answer = await apiJson(PolicyResponseSchema, `/api/v1/named-policies/${name}`);
  if (!answer.ok) {
    $('policy-summary').textContent = '';
    $('policy-error').textContent = answer.status === 404 ? `There is no policy named ${name}.` : `The policy could not be loaded: ${answer.message}.`;
    table.reset([]);
    $('policy-title').focus();
    return;
  }
  $('policy-error').textContent = '';
  policy = answer.data.policy;
  $('policy-title').textContent = policy.displayName;
  $('policy-description').textContent = policy.description ?? '';
  $('policy-summary').textContent = `${policy.name} · revision ${policy.revision} · ${policy.content.rules.length.toLocaleString('en-GB')} rule(s)`;
  table.reset(policy.content.rules.map((record) => ({ key: recordKey(record), record })));
  fillSettings(policy.content.settings, canChange);
  $('policy-title').focus();
  void loadHistory();
  if (canChange) void loadGroupNames();
}

table.onChange = (shown, total) => {
  $('rules-count').textContent = shown === total ? `${total.toLocaleString('en-GB')} rule(s)` : `${shown.toLocaleString('en-GB')} of ${total.toLocaleString('en-GB')} shown`;
  $('rules-empty').hidden = shown > 0;
  $('rules-empty').textContent = total === 0 ? 'This policy has no rules yet.' : 'No rule matches the search.';
};
$('rule-search').addEventListener('input', () => table.search($<HTMLInputElement>('rule-search').value));

async function loadGroupNames(): Promise<void> {
  const groups = await apiJson(GroupListResponseSchema, '/api/v1/groups');
  if (groups.ok) $('group-names').replaceChildren(...groups.data.groups.map((g) => new Option(g.displayName, g.name)));
}

// ---------------------------------------------------------------- changes: review, then publish

$('rule-new').addEventListener('click', () => {
  closePending();
  form.open(null);
});
$('rule-cancel').addEventListener('click', () => {
  form.close();
  $('rule-new').focus();
});
table.onEdit = (rule) => {
  closePending();
  form.open(rule.record);
};
table.onRemove = (rule) => {
  form.close();
  showPending({ kind: 'remove', rule });
};
$<HTMLFormElement>('rule-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const body = form.read();
  if (!body || !policy) return;
  const editing = form.editingRule;
  showPending({ kind: 'add', body, replaces: editing ? { key: recordKey(editing), record: editing } : null });
});

/** The record the console will store for an added rule (author and time are the console's; these are for the preview). */
function previewRecord(body: RuleAddRequest): RuleRecord {
  return {
    rule: body.rule,
    exception: body.exception,
    author: me?.username ?? '',
    reason: body.reason,
    addedAt: new Date().toISOString(),
    ...(body.expiresAt ? { expiresAt: body.expiresAt } : {}),
    origin: 'console',
  };
}

/** The diff a pending change makes, computed on just the rules it touches (fast at any policy size). */
function pendingDiff(change: Pending): ShownDiff {
  const empty: PolicyContent = { settings: {}, rules: [] };
  if (change.kind === 'import') return change.preview.diff;
  if (change.kind === 'settings') return diffPolicyContent({ ...empty, settings: policy!.content.settings }, { ...empty, settings: change.settings });
  if (change.kind === 'remove') return diffPolicyContent({ ...empty, rules: [change.rule.record] }, empty);
  const record = previewRecord(change.body);
  const key = recordKey(record);
  const same = policy!.content.rules.find((r) => recordKey(r) === key);
  const before: RuleRecord[] = [...(same ? [same] : []), ...(change.replaces && change.replaces.key !== key ? [change.replaces.record] : [])];
  return diffPolicyContent({ ...empty, rules: before }, addRule(empty, record).content);
}

function showPending(change: Pending): void {
  pending = change;
  const diff = pendingDiff(change);
  drawDiff($('pending-diff'), diff);
  const exists = change.kind === 'add' && !change.replaces && diff.rules.changed.length > 0;
  $('pending-what').textContent = exists
    ? 'The policy already has a rule for this program; publishing changes it.'
    : `Publishing makes revision ${policy!.revision + 1} of ${policy!.displayName} and sends the new policy to the devices it applies to.`;
  $('pending-reason-box').hidden = change.kind === 'add';
  const notes = change.kind === 'import' ? change.preview.notes : [];
  $('pending-notes').replaceChildren(...notes.map((n) => el('li', n.line ? `Line ${n.line}: ${n.message}` : n.message)));
  $('pending-notes-box').hidden = notes.length === 0;
  if (change.kind === 'import') {
    const { rules, exceptions, diff } = change.preview;
    $('pending-what').textContent = `The file holds ${rules} rule(s) and ${exceptions} exception(s): ${diff.rules.added.length} would be added and ${diff.rules.changed.length} changed. Publishing makes revision ${policy!.revision + 1}.`;
  }
  $<HTMLInputElement>('pending-reason').value = '';
  setFieldError('pending-reason', '');
  $('pending').hidden = false;
  if (change.kind === 'add') form.close();
  (change.kind === 'add' ? $('pending-title') : $('pending-reason')).focus();
}

function closePending(): void {
  pending = null;
  $('pending').hidden = true;
}

$('pending-discard').addEventListener('click', () => {
  closePending();
  $('policy-result').textContent = 'The change was discarded; nothing was published.';
  $('rule-search').focus();
});

$('pending-publish').addEventListener('click', () => void publish());

const Reason = z.string().trim().min(3, 'give a reason of at least 3 characters').max(500);

async function publish(): Promise<void> {
  if (!pending || !policy) return;
  const name = policy.name;
  const path = `/api/v1/named-policies/${name}/rules`;
  const results = [];
  const reason = Reason.safeParse($<HTMLInputElement>('pending-reason').value);
  if (pending.kind !== 'add' && !reason.success) {
    setFieldError('pending-reason', reason.error.issues[0]!.message);
    return $('pending-reason').focus();
  }
  const why = reason.data ?? '';
  if (pending.kind === 'remove') {
    results.push(await apiJson(ChangeResponseSchema, path, { method: 'DELETE', body: JSON.stringify({ key: pending.rule.key, reason: why }) }));
  } else if (pending.kind === 'import') {
    const body = { format: pending.format, content: pending.content, reason: why };
    results.push(await apiJson(ImportResponseSchema, `/api/v1/named-policies/${name}/import`, { method: 'POST', body: JSON.stringify(body) }));
  } else if (pending.kind === 'settings') {
    const body = { settings: pending.settings, reason: why };
    results.push(await apiJson(ChangeResponseSchema, `/api/v1/named-policies/${name}/settings`, { method: 'PUT', body: JSON.stringify(body) }));
  } else {
    const { body, replaces } = pending;
    results.push(await apiJson(ChangeResponseSchema, path, { method: 'POST', body: JSON.stringify(body) }));
    // An edit that changed the rule's groups changed its key: the old rule goes too.
    const key = recordKey(previewRecord(body));
    if (results[0]!.ok && replaces && replaces.key !== key)
      results.push(await apiJson(ChangeResponseSchema, path, { method: 'DELETE', body: JSON.stringify({ key: replaces.key, reason: body.reason }) }));
  }
  const failed = results.find((r) => !r.ok);
  if (failed && !failed.ok) {
    $('policy-result').textContent = '';
    $('policy-error').textContent = `Not published: ${failed.message}.`;
    return $('pending-publish').focus();
  }
  const last = results.at(-1);
  const version = last?.ok ? last.data.version : null;
  closePending();
  $<HTMLFormElement>('import-form').reset();
  await openPolicy(name);
  $('policy-result').textContent =
    version === null ? 'Saved. No device’s policy changed (the policy is not assigned to any device).' : `Published as policy version ${version}.`;
  $('rule-search').focus();
}

$('import-file').addEventListener('change', () => {
  const file = $<HTMLInputElement>('import-file').files?.[0];
  const ext = file?.name.split('.').pop()?.toLowerCase();
  if (ext === 'xml') $<HTMLSelectElement>('import-format').value = 'applocker';
  else if (ext === 'json') $<HTMLSelectElement>('import-format').value = 'santa';
  else if (ext === 'csv') $<HTMLSelectElement>('import-format').value = 'csv';
});

$<HTMLFormElement>('import-form').addEventListener('submit', (event) => {
  event.preventDefault();
  void previewImport();
});

/** Base64 of a file's bytes (AppLocker exports are UTF-16: the console decodes them). */
async function base64Of(file: File): Promise<string> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

async function previewImport(): Promise<void> {
  if (!policy) return;
  setFieldError('import-file', '');
  const file = $<HTMLInputElement>('import-file').files?.[0];
  if (!file) {
    setFieldError('import-file', 'choose a file');
    return $('import-file').focus();
  }
  const format = RuleFileFormatSchema.parse($<HTMLSelectElement>('import-format').value);
  const content = await base64Of(file);
  const answer = await apiJson(ImportPreviewResponseSchema, `/api/v1/named-policies/${policy.name}/import/preview`, {
    method: 'POST',
    body: JSON.stringify({ format, content }),
  });
  if (!answer.ok) {
    setFieldError('import-file', answer.message);
    return $('import-file').focus();
  }
  form.close();
  showPending({ kind: 'import', format, content, preview: answer.data });
}

$<HTMLFormElement>('settings-form').addEventListener('submit', (event) => {
  event.preventDefault();
  if (!policy) return;
  const settings = readSettings(policy.content.settings);
  if (settings) showPending({ kind: 'settings', settings });
});

// ---------------------------------------------------------------- history and roll back

async function loadHistory(): Promise<void> {
  if (!policy) return;
  const name = policy.name;
  const answer = await apiJson(HistoryResponseSchema, `/api/v1/named-policies/${name}/history?limit=200`);
  if (!answer.ok) {
    $('history-rows').replaceChildren(row([`The history could not be loaded: ${answer.message}`]));
    return;
  }
  const current = policy.revision;
  $('history-rows').replaceChildren(
    ...answer.data.history.map((h) => {
      const box = el('div', '', 'row-buttons');
      const show = button('Show changes', () => void showRevision(name, h.revision), 'secondary');
      show.setAttribute('aria-label', `Show the changes of revision ${h.revision}`);
      box.append(show);
      if (canChange && h.revision !== current) {
        const back = button('Roll back to this', () => void rollback(name, h.revision), 'secondary');
        back.setAttribute('aria-label', `Roll back to revision ${h.revision}`);
        box.append(back);
      }
      const change = h.rolledBackTo ? `rollback to ${h.rolledBackTo}` : h.change;
      const tr = row([
        h.revision === current ? `${h.revision} (current)` : String(h.revision),
        new Date(h.at).toLocaleString('en-GB'),
        change,
        h.reason ? `${h.author}: ${h.reason}` : h.author,
        box,
      ]);
      tr.dataset.revision = String(h.revision);
      return tr;
    }),
  );
}

async function showRevision(name: string, revision: number): Promise<void> {
  $('revision').hidden = false;
  $('revision-title').textContent = `Revision ${revision}: what changed`;
  let diff: ShownDiff;
  if (revision === 1) {
    const first = await apiJson(RevisionResponseSchema, `/api/v1/named-policies/${name}/revisions/1`);
    if (!first.ok) return void $('revision-diff').replaceChildren(el('li', `The revision could not be loaded: ${first.message}`));
    diff = diffPolicyContent({ settings: {}, rules: [] }, first.data.revision.content);
  } else {
    const answer = await apiJson(DiffResponseSchema, `/api/v1/named-policies/${name}/diff?from=${revision - 1}&to=${revision}`);
    if (!answer.ok) return void $('revision-diff').replaceChildren(el('li', `The changes could not be loaded: ${answer.message}`));
    diff = answer.data.diff;
  }
  drawDiff($('revision-diff'), diff);
  $('revision-title').focus();
}

async function rollback(name: string, revision: number): Promise<void> {
  const reason = el('input');
  reason.id = 'rollback-reason';
  reason.autocomplete = 'off';
  const ok = await confirmAction({
    title: `Roll ${name} back to revision ${revision}?`,
    text: `A new revision with the content of revision ${revision} is made and published to the devices the policy applies to. Nothing in the history is lost.`,
    ok: 'Roll back',
    danger: true,
    fields: [field('Reason (at least 3 characters)', reason)],
  });
  if (!ok) return;
  const parsed = Reason.safeParse(reason.value);
  if (!parsed.success) {
    $('policy-error').textContent = `Not rolled back: ${parsed.error.issues[0]!.message}.`;
    return;
  }
  const answer = await apiJson(ChangeResponseSchema, `/api/v1/named-policies/${name}/rollback`, {
    method: 'POST',
    body: JSON.stringify({ revision, reason: parsed.data }),
  });
  if (!answer.ok) {
    $('policy-error').textContent = `Not rolled back: ${answer.message}.`;
    return;
  }
  await openPolicy(name);
  $('policy-result').textContent = `Rolled back to revision ${revision} as revision ${answer.data.revision ?? '?'}${answer.data.version ? `; published as policy version ${answer.data.version}` : ''}.`;
}

function drawDiff(list: HTMLElement, diff: ShownDiff): void {
  const lines = diffLines(diff);
  list.replaceChildren(
    ...lines.slice(0, DIFF_LINES).map((l) => el('li', l.text, `diff-${l.sign}`)),
    ...(lines.length > DIFF_LINES ? [el('li', `… and ${(lines.length - DIFF_LINES).toLocaleString('en-GB')} more`)] : []),
    ...(lines.length === 0 ? [el('li', 'No differences.')] : []),
  );
}

// ---------------------------------------------------------------- explain

async function loadDevices(): Promise<void> {
  const answer = await apiJson(DeviceListResponseSchema, '/api/v1/devices');
  const select = $<HTMLSelectElement>('explain-device');
  const chosen = select.value;
  if (!answer.ok) {
    $('explain-error').textContent = `The devices could not be loaded: ${answer.message}.`;
    return;
  }
  const devices = answer.data.devices.filter((d) => !d.revoked).sort((a, b) => a.hostname.localeCompare(b.hostname));
  select.replaceChildren(...devices.map((d) => new Option(`${d.hostname} (${d.id.slice(0, 8)})`, d.id)));
  if (devices.some((d) => d.id === chosen)) select.value = chosen;
  $('explain').hidden = devices.length === 0 && !$('explain-error').textContent;
}

$<HTMLFormElement>('explain-form').addEventListener('submit', (event) => {
  event.preventDefault();
  void explain($<HTMLSelectElement>('explain-device').value);
});

async function explain(deviceId: string): Promise<void> {
  if (!deviceId) return;
  const answer = await apiJson(ExplainResponseSchema, `/api/v1/devices/${deviceId}/policy/explain`);
  if (!answer.ok) {
    $('explain-error').textContent = `No explanation: ${answer.message}.`;
    $('explain-result').hidden = true;
    return;
  }
  $('explain-error').textContent = '';
  const { memberships, explanation } = answer.data;
  const from = (ref: { policy: string; group: string | null; precedence: number } | null) =>
    ref ? (ref.group ? `${ref.policy} (group ${ref.group}, precedence ${ref.precedence})` : `${ref.policy} (baseline)`) : 'agent default';
  $('explain-groups').textContent = memberships.length
    ? `Groups: ${memberships.map((m) => `${m.group} (${m.reasons.map((r) => (r.kind === 'rule' ? `${r.rule.kind} rule` : r.kind)).join(', ')})`).join('; ')}`
    : 'The device is in no group: only the baseline applies.';
  $('explain-settings').replaceChildren(...explanation.settings.map((s) => row([s.setting, from(s.from)])));
  const ruleRow = (r: (typeof explanation.rules)[number], note = '') => row([r.key, `${from(r.from)}${note}`, r.reason ? `${r.author}: ${r.reason}` : r.author]);
  $('explain-rules').replaceChildren(
    ...explanation.rules.slice(0, 500).map((r) => ruleRow(r)),
    ...explanation.shadowed.slice(0, 100).map((r) => ruleRow(r, ` — overridden by ${from(r.by)}`)),
    ...explanation.excluded.slice(0, 100).map((r) => ruleRow(r, ` — not applied (${r.why})`)),
  );
  $('explain-more').textContent = `${explanation.rules.length} rule(s) in force, ${explanation.shadowed.length} overridden, ${explanation.excluded.length} not applied.`;
  $('explain-result').hidden = false;
}

watchScrollRegions();
window.addEventListener('hashchange', () => void route());
void wireSession(showApp, showSignIn)();
