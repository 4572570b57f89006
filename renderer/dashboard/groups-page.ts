import { EnrollTokenListResponseSchema } from '../../src/shared/admin-api.js';
import type { DeviceSummary } from '../../src/shared/api.js';
import { ChangeResponseSchema, GroupCreateRequestSchema, GroupUpdateRequestSchema } from '../../src/shared/policies/api.js';
import { MembershipRuleSchema, type MembershipRule } from '../../src/shared/policies/model.js';
import { apiJson, el, row, visible } from '../shared/console-api.js';
import { confirmAction } from '../shared/confirm.js';
import { button, checkForm, setFieldError } from '../shared/forms.js';
import { GroupMembers } from './group-members.js';
import { loadGroups, ruleText, updateGroup, type GroupView } from './groups-api.js';

/**
 * Device groups (docs/console.md "Groups"): create, rename, delete (asked first), membership
 * rules (hostname pattern, ownership, enrollment token) and the members with why each is one.
 * Forms are checked in the browser with the console's own schemas; errors sit next to the field.
 * Systems Managers and admins change groups; technicians read them.
 */
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const fieldError = (id: string, message: string) => {
  setFieldError(id, message);
  $(id).focus();
};

export interface GroupsPageDeps {
  /** The device as the grid has it (hostname, presence), for the members list. */
  device(id: string): DeviceSummary | undefined;
  /** After a change: the grid's Group filter and the device page read groups from the device list. */
  changed(): Promise<void>;
}

export class GroupsPage {
  private groups: GroupView[] = [];
  private openName: string | null = null;
  private mayEdit = false;
  private tokenLabels = new Map<string, string>();
  private readonly members: GroupMembers;

  constructor(private readonly deps: GroupsPageDeps) {
    this.members = new GroupMembers($('group-members-scroll'), $<HTMLTableSectionElement>('group-member-rows'), (id) => void this.removeMember(id));
    $('group-create').addEventListener('submit', (e) => (e.preventDefault(), void this.create()));
    $('group-rename').addEventListener('submit', (e) => (e.preventDefault(), void this.rename()));
    $('group-delete').addEventListener('click', () => void this.remove());
    $('group-rule-add').addEventListener('submit', (e) => (e.preventDefault(), void this.addRule()));
    $('group-rule-kind').addEventListener('change', () => this.drawRuleKind());
    this.drawRuleKind();
  }

  allowEdit(edit: boolean, listTokens: boolean): void {
    this.mayEdit = edit;
    for (const id of ['group-create', 'group-rename', 'group-rule-add']) $(id).hidden = !edit;
    if (listTokens) void this.loadTokens();
  }

  async load(): Promise<void> {
    const answer = await loadGroups();
    $('groups-error').textContent = answer.ok ? '' : `Could not load the groups: ${answer.message}`;
    if (!answer.ok) return;
    this.groups = [...answer.data].sort((a, b) => a.name.localeCompare(b.name));
    const members = new Set(this.groups.flatMap((g) => g.members)).size;
    $('groups-summary').textContent =
      `${this.groups.length} group${this.groups.length === 1 ? '' : 's'}, ${members} device${members === 1 ? '' : 's'} in at least one`;
    $('groups-empty').hidden = this.groups.length > 0;
    $('groups-empty').textContent = this.mayEdit ? 'No group yet. Create one above.' : 'No group yet. A Systems Manager or an administrator creates them.';
    $('group-rows').replaceChildren(...this.groups.map((g) => this.groupRow(g)));
    if (this.openName && !this.groups.some((g) => g.name === this.openName)) this.openName = null;
    this.drawDetail();
  }

  private groupRow(g: GroupView): HTMLTableRowElement {
    const tr = row([
      g.displayName,
      g.name,
      String(g.members.length),
      g.rules.length ? g.rules.map((r) => ruleText(r, (id) => this.tokenLabels.get(id))).join('; ') : '—',
      button(`Open ${g.displayName}`, () => this.open(g.name), 'secondary'),
    ]);
    tr.dataset.group = g.name;
    return tr;
  }

  private open(name: string): void {
    this.openName = name;
    $('groups-result').textContent = '';
    this.drawDetail();
    $('group-detail-title').focus();
  }

  private get current(): GroupView | undefined {
    return this.groups.find((g) => g.name === this.openName);
  }

  private drawDetail(): void {
    const g = this.current;
    $('group-detail').hidden = !g;
    if (!g) return;
    $('group-detail-title').textContent = visible(`${g.displayName} (${g.name})`);
    // A Set, not listedByHand per member: a group of thousands would cost millions of comparisons.
    const listed = new Set(g.devices);
    const byHand = g.members.filter((id) => listed.has(id)).length;
    $('group-detail-summary').textContent =
      `${g.members.length} member${g.members.length === 1 ? '' : 's'}: ${byHand} listed by hand, ${g.members.length - byHand} by a rule or an enrollment token.${g.description ? ` ${g.description}` : ''}`;
    for (const id of ['group-new-name', 'group-new-display', 'group-new-description', 'group-rule-value']) setFieldError(id, '');
    $<HTMLInputElement>('group-new-name').value = g.name;
    $<HTMLInputElement>('group-new-display').value = g.displayName;
    $<HTMLInputElement>('group-new-description').value = g.description ?? '';
    $('group-rules-empty').hidden = g.rules.length > 0;
    $('group-rules').replaceChildren(
      ...g.rules.map((rule, i) => {
        const li = el(
          'li',
          ruleText(rule, (id) => this.tokenLabels.get(id)),
        );
        if (this.mayEdit)
          li.append(
            ' ',
            button(`Remove the rule "${ruleText(rule)}"`, () => void this.removeRule(i), 'secondary'),
          );
        return li;
      }),
    );
    $('group-members-empty').hidden = g.members.length > 0;
    this.members.show(
      g.members.map((id) => ({ id, device: this.deps.device(id), byHand: listed.has(id) })),
      this.mayEdit,
    );
  }

  private drawRuleKind(): void {
    const kind = $<HTMLSelectElement>('group-rule-kind').value;
    $('group-rule-ownership-label').hidden = kind !== 'ownership';
    $('group-rule-value-label').hidden = kind === 'ownership';
    $('group-rule-value-name').textContent = kind === 'hostname' ? 'Pattern (e.g. lab-*)' : 'Token id';
    $<HTMLInputElement>('group-rule-value').placeholder = kind === 'hostname' ? 'lab-*' : 'token id';
    setFieldError('group-rule-value', '');
  }

  private async loadTokens(): Promise<void> {
    const answer = await apiJson(EnrollTokenListResponseSchema, '/api/v1/enroll-tokens');
    if (!answer.ok) return;
    this.tokenLabels = new Map(answer.data.tokens.map((t) => [t.id, t.label]));
    $('group-token-ids').replaceChildren(
      ...answer.data.tokens.map((t) => {
        const option = document.createElement('option');
        option.value = t.id;
        option.label = visible(t.label);
        return option;
      }),
    );
  }

  private async create(): Promise<void> {
    const description = $<HTMLInputElement>('group-description').value.trim();
    const body = checkForm(
      GroupCreateRequestSchema,
      {
        name: $<HTMLInputElement>('group-name').value.trim(),
        displayName: $<HTMLInputElement>('group-display').value,
        ...(description ? { description } : {}),
      },
      { name: 'group-name', displayName: 'group-display', description: 'group-description' },
    );
    if (!body) return;
    const answer = await apiJson(ChangeResponseSchema, '/api/v1/groups', { method: 'POST', body: JSON.stringify(body) });
    if (!answer.ok) return fieldError('group-name', `The group was not created: ${answer.message}`);
    $<HTMLFormElement>('group-create').reset();
    await this.changed(`Created the group ${body.name}.`);
    this.open(body.name);
  }

  private async rename(): Promise<void> {
    const g = this.current;
    if (!g) return;
    const change = checkForm(
      GroupUpdateRequestSchema,
      {
        name: $<HTMLInputElement>('group-new-name').value.trim(),
        displayName: $<HTMLInputElement>('group-new-display').value,
        description: $<HTMLInputElement>('group-new-description').value.trim(),
      },
      { name: 'group-new-name', displayName: 'group-new-display', description: 'group-new-description' },
    );
    if (!change) return;
    const answer = await updateGroup(g.name, change);
    if (!answer.ok) return fieldError('group-new-name', `Not saved: ${answer.message}`);
    this.openName = change.name ?? g.name;
    await this.changed(change.name !== g.name ? `Renamed ${g.name} to ${change.name}; its assignments and rules follow.` : `Saved ${g.name}.`);
  }

  private async remove(): Promise<void> {
    const g = this.current;
    if (!g) return;
    const ok = await confirmAction({
      title: `Delete the group "${g.displayName}"?`,
      text: `Its ${g.members.length} member(s) leave it; the devices themselves stay enrolled. A group still assigned a policy or named by rules is not deleted.`,
      ok: 'Delete group',
      danger: true,
    });
    if (!ok) return;
    const answer = await apiJson(ChangeResponseSchema, `/api/v1/groups/${encodeURIComponent(g.name)}`, { method: 'DELETE' });
    if (!answer.ok) return void ($('groups-error').textContent = `The group was not deleted: ${answer.message}`);
    this.openName = null;
    await this.changed(`Deleted the group ${g.name}.`);
    $('groups-title').focus();
  }

  private async addRule(): Promise<void> {
    const g = this.current;
    if (!g) return;
    const kind = $<HTMLSelectElement>('group-rule-kind').value;
    const value = $<HTMLInputElement>('group-rule-value').value.trim();
    const candidate =
      kind === 'hostname'
        ? { kind, pattern: value }
        : kind === 'ownership'
          ? { kind, ownership: $<HTMLSelectElement>('group-rule-ownership').value }
          : { kind, tokenId: value };
    const rule = checkForm(MembershipRuleSchema, candidate, { pattern: 'group-rule-value', tokenId: 'group-rule-value', ownership: 'group-rule-ownership' });
    if (!rule) return;
    if (kind === 'enrollment-token' && this.tokenLabels.size > 0 && !this.tokenLabels.has(value))
      return fieldError('group-rule-value', 'no enrollment token has this id');
    if (g.rules.some((r) => JSON.stringify(r) === JSON.stringify(rule))) return fieldError('group-rule-value', 'the group already has this rule');
    await this.saveRules(g, [...g.rules, rule], `Added the rule "${ruleText(rule)}".`, 'group-rule-value');
    $<HTMLInputElement>('group-rule-value').value = '';
  }

  private async removeRule(index: number): Promise<void> {
    const g = this.current;
    if (!g) return;
    const rule = g.rules[index]!;
    await this.saveRules(
      g,
      g.rules.filter((_, i) => i !== index),
      `Removed the rule "${ruleText(rule)}".`,
      'group-rule-value',
    );
    $('group-rule-kind').focus();
  }

  private async saveRules(g: GroupView, rules: MembershipRule[], done: string, errorField: string): Promise<void> {
    const answer = await updateGroup(g.name, { rules });
    if (!answer.ok) return fieldError(errorField, `Not saved: ${answer.message}`);
    await this.changed(done);
  }

  private async removeMember(id: string): Promise<void> {
    const g = this.current;
    if (!g) return;
    const answer = await updateGroup(g.name, { removeDevices: [id] });
    if (!answer.ok) return void ($('groups-error').textContent = `Not removed: ${answer.message}`);
    const name = this.deps.device(id)?.hostname ?? id;
    await this.changed(`Removed ${name} from ${g.name}.`);
    $('group-detail-title').focus();
  }

  private async changed(message: string): Promise<void> {
    $('groups-error').textContent = '';
    await Promise.all([this.load(), this.deps.changed()]);
    $('groups-result').textContent = visible(message);
  }
}
