import type { EnrollTokenView } from '../../src/shared/admin-api.js';
import { ChangeResponseSchema, TokenGroupsRequestSchema } from '../../src/shared/policies/api.js';
import { apiJson, visible } from '../shared/console-api.js';
import { checkForm, setFieldError } from '../shared/forms.js';
import { groupChecks, tickedIn, type GroupChoice } from './group-checks.js';

/**
 * Changing an enrollment token's default groups after it was made (admin, like the rest of the
 * tokens page): `PUT /api/v1/enroll-tokens/<id>/groups`, checked first with the console's own
 * schema. Membership by token is worked out, not copied at enrolment, so the change moves the
 * devices already enrolled with the token too; the form says so.
 */
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

export class TokenGroupsEditor {
  private token: EnrollTokenView | null = null;
  /** The button that opened the form, to take the focus back to. */
  private opener: HTMLElement | null = null;

  constructor(private readonly saved: () => Promise<void>) {
    $('token-groups-edit').addEventListener('submit', (e) => (e.preventDefault(), void this.save()));
    $('token-groups-cancel').addEventListener('click', () => this.close());
  }

  open(token: EnrollTokenView, groups: GroupChoice[] | null, opener: HTMLElement): void {
    this.token = token;
    this.opener = opener;
    $('token-groups-result').textContent = '';
    $('token-groups-edit-title').textContent = visible(`Default groups of "${token.label}"`);
    groupChecks($('token-edit-groups'), groups, new Set(token.groups));
    setFieldError('token-edit-groups', '');
    $('token-groups-edit').hidden = false;
    $('token-groups-edit-title').focus();
  }

  private close(): void {
    $('token-groups-edit').hidden = true;
    this.token = null;
    this.opener?.focus();
  }

  private async save(): Promise<void> {
    const token = this.token;
    if (!token) return;
    const body = checkForm(TokenGroupsRequestSchema, { groups: tickedIn($('token-edit-groups')) }, { groups: 'token-edit-groups' });
    if (!body) return;
    const answer = await apiJson(ChangeResponseSchema, `/api/v1/enroll-tokens/${encodeURIComponent(token.id)}/groups`, {
      method: 'PUT',
      body: JSON.stringify(body),
    });
    if (!answer.ok) return void ($('token-edit-groups-error').textContent = visible(`Not saved: ${answer.message}`));
    $('token-groups-edit').hidden = true;
    this.token = null;
    await this.saved();
    $('token-groups-result').textContent = visible(
      `Saved: devices enrolled with "${token.label}" are in ${body.groups.length ? body.groups.join(', ') : 'no group by this token'}.`,
    );
    // The row was drawn again: its button is a new element.
    document.querySelector<HTMLElement>(`#token-rows tr[data-token-id="${token.id}"] button.token-groups`)?.focus();
  }
}
