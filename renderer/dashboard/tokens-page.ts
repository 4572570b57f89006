import { z } from 'zod';
import { EnrollTokenCreatedSchema, EnrollTokenListResponseSchema, type EnrollTokenView } from '../../src/shared/admin-api.js';
import { CreateEnrollTokenRequestSchema } from '../../src/shared/api.js';
import { apiJson, el, row, visible } from '../shared/console-api.js';
import { confirmAction } from '../shared/confirm.js';
import { button, checkbox, checkForm } from '../shared/forms.js';
import { clock } from './format.js';
import { loadGroups } from './groups-api.js';

/**
 * Enrollment tokens (admin): create one (shown once, with a copy button: the console keeps only
 * its hash), list them with their uses, revoke one (asked first).
 */
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const RevokedSchema = z.object({ revoked: z.boolean() });

export class TokensPage {
  constructor() {
    $('token-create').addEventListener('submit', (e) => (e.preventDefault(), void this.create()));
    $('token-copy').addEventListener('click', () => void this.copy());
    $('token-done').addEventListener('click', () => this.forgetToken());
  }

  async load(): Promise<void> {
    const [answer, groups] = await Promise.all([apiJson(EnrollTokenListResponseSchema, '/api/v1/enroll-tokens'), loadGroups()]);
    this.drawGroupChoices(groups.ok ? groups.data.map((g) => ({ name: g.name, label: `${g.displayName} (${g.name})` })) : null);
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
        groups: [...$('token-groups').querySelectorAll<HTMLInputElement>('input:checked')].map((box) => box.value),
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

  /** One box per console group (null: the groups could not be read, so none is offered). */
  private drawGroupChoices(groups: { name: string; label: string }[] | null): void {
    const ticked = new Set([...$('token-groups').querySelectorAll<HTMLInputElement>('input:checked')].map((box) => box.value));
    $('token-groups').replaceChildren(
      ...(groups === null
        ? [el('p', 'The groups could not be loaded: the token can be created without default groups.', 'empty')]
        : groups.length === 0
          ? [el('p', 'No group yet: create groups on the Groups page to give tokens default groups.', 'empty')]
          : groups.map((g) => checkbox(g.name, g.label, { checked: ticked.has(g.name) }))),
    );
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
