import { z } from 'zod';
import { EnrollTokenCreatedSchema, EnrollTokenListResponseSchema, type EnrollTokenView } from '../../src/shared/admin-api.js';
import { CreateEnrollTokenRequestSchema } from '../../src/shared/api.js';
import { apiJson, el, row, visible } from '../shared/console-api.js';
import { confirmAction } from '../shared/confirm.js';
import { button, checkForm } from '../shared/forms.js';
import { clock } from './format.js';
import { groupChecks, tickedIn, type GroupChoice } from './group-checks.js';
import { loadGroups } from './groups-api.js';
import { TokenGroupsEditor } from './token-groups.js';

/**
 * Enrollment tokens (admin): create one (shown once, with a copy button: the console keeps only
 * its hash), list them with their uses, change their default groups (token-groups.ts), revoke
 * one (asked first).
 */
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const RevokedSchema = z.object({ revoked: z.boolean() });

export class TokensPage {
  /** The console's groups as last loaded (null: they could not be read). */
  private groups: GroupChoice[] | null = null;
  private readonly editor = new TokenGroupsEditor(() => this.load());

  constructor() {
    $('token-create').addEventListener('submit', (e) => (e.preventDefault(), void this.create()));
    $('token-copy').addEventListener('click', () => void this.copy());
    $('token-done').addEventListener('click', () => this.forgetToken());
  }

  async load(): Promise<void> {
    const [answer, groups] = await Promise.all([apiJson(EnrollTokenListResponseSchema, '/api/v1/enroll-tokens'), loadGroups()]);
    this.groups = groups.ok ? groups.data.map((g) => ({ name: g.name, label: `${g.displayName} (${g.name})` })) : null;
    // Boxes ticked in the create form stay ticked across a reload of the list.
    groupChecks(
      $('token-groups'),
      this.groups,
      new Set(tickedIn($('token-groups'))),
      'The groups could not be loaded: the token can be created without default groups.',
    );
    $('tokens-error').textContent = answer.ok ? '' : `Could not load the tokens: ${answer.message}`;
    if (!answer.ok) return;
    const tokens = [...answer.data.tokens].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    const usable = tokens.filter((t) => state(t) === 'Usable').length;
    $('tokens-summary').textContent = `${usable} usable of ${tokens.length}`;
    $('tokens-empty').hidden = tokens.length > 0;
    $('token-rows').replaceChildren(...tokens.map((t) => this.tokenRow(t)));
  }

  private tokenRow(t: EnrollTokenView): HTMLTableRowElement {
    const actions = el('span', '', 'row-buttons');
    // Every token, used up or not: devices enrolled with it are in its default groups for good.
    const edit = button('Groups…', () => this.editor.open(t, this.groups, edit), 'secondary token-groups');
    edit.setAttribute('aria-label', visible(`Change the default groups of ${t.label}`));
    actions.append(edit);
    if (state(t) === 'Usable') actions.append(button('Revoke…', () => void this.revoke(t), 'danger'));
    const tr = row([
      t.label,
      `${clock(t.createdAt)} by ${t.createdBy}`,
      clock(t.expiresAt),
      t.maxUses === null ? `${t.uses}` : `${t.uses} of ${t.maxUses}`,
      t.groups.length ? t.groups.join(', ') : '—',
      state(t),
      actions,
    ]);
    tr.dataset.tokenId = t.id;
    return tr;
  }

  private async create(): Promise<void> {
    const uses = $<HTMLInputElement>('token-uses').value.trim();
    const body = checkForm(
      CreateEnrollTokenRequestSchema,
      {
        label: $<HTMLInputElement>('token-label').value.trim(),
        expiresInHours: Number($<HTMLInputElement>('token-hours').value),
        maxUses: uses ? Number(uses) : null,
        groups: tickedIn($('token-groups')),
      },
      { label: 'token-label', expiresInHours: 'token-hours', maxUses: 'token-uses', groups: 'token-groups' },
    );
    if (!body) return;
    const answer = await apiJson(EnrollTokenCreatedSchema, '/api/v1/enroll-tokens', { method: 'POST', body: JSON.stringify(body) });
    if (!answer.ok) return void ($('tokens-error').textContent = `The token was not created: ${answer.message}`);
    $('token-value').textContent = visible(answer.data.token);
    $('token-copy-result').textContent = '';
    $('token-once').hidden = false;
    $<HTMLFormElement>('token-create').reset();
    $('token-copy').focus();
    await this.load();
  }

  private async copy(): Promise<void> {
    const text = $('token-value').textContent ?? '';
    try {
      await navigator.clipboard.writeText(text);
      $('token-copy-result').textContent = 'Copied to the clipboard.';
    } catch {
      // No clipboard permission: select the text so Ctrl+C copies it.
      getSelection()?.selectAllChildren($('token-value'));
      $('token-copy-result').textContent = 'The browser refused the clipboard; the token is selected: press Ctrl+C.';
    }
  }

  /** "Done": the token leaves the page for good. */
  private forgetToken(): void {
    $('token-value').textContent = '';
    $('token-once').hidden = true;
    $('token-label').focus();
  }

  private async revoke(t: EnrollTokenView): Promise<void> {
    const ok = await confirmAction({
      title: `Revoke the token "${t.label}"?`,
      text: 'Devices already enrolled with it keep working; nothing can enroll with it any more.',
      ok: 'Revoke token',
      danger: true,
    });
    if (!ok) return;
    const answer = await apiJson(RevokedSchema, `/api/v1/enroll-tokens/${t.id}/revoke`, { method: 'POST', body: '{}' });
    $('tokens-error').textContent = answer.ok ? '' : `The token was not revoked: ${answer.message}`;
    await this.load();
  }
}

function state(t: EnrollTokenView): 'Usable' | 'Revoked' | 'Expired' | 'Used up' {
  if (t.revoked) return 'Revoked';
  if (Date.parse(t.expiresAt) <= Date.now()) return 'Expired';
  if (t.maxUses !== null && t.uses >= t.maxUses) return 'Used up';
  return 'Usable';
}
