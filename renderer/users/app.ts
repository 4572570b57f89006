import { UserListResponseSchema, type UserSummary } from '../../src/shared/accounts.js';
import { RoleSchema, type Role } from '../../src/shared/roles.js';
import { z } from 'zod';
import { apiJson, el, row } from '../shared/console-api.js';
import { confirmAction, field } from '../shared/confirm.js';
import { watchScrollRegions } from '../shared/scroll-regions.js';
import { wireSession, type Me } from '../shared/sign-in.js';

/**
 * The admin's account list (issue 14): role, where each person signs in, second factor, last
 * sign-in and open sessions, with the changes an admin makes (role, disable/enable, end sessions,
 * reset the second factor). Every change asks first; the console ends the person's sessions and
 * audits it. Text from the server is written with textContent only.
 */
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const Changed = z.object({}).loose();

function showSignIn(): void {
  $('users').hidden = true;
  $('whoami').hidden = true;
  $('sign-in').hidden = false;
  $('sign-in-error').textContent = '';
}

async function showUsers(me: Me): Promise<void> {
  $('sign-in').hidden = true;
  $('whoami').hidden = false;
  $('whoami-name').textContent = `${me.username} (${me.role})`;
  $('users').hidden = false;
  await load();
}

async function load(): Promise<void> {
  const result = await apiJson(UserListResponseSchema, '/api/v1/users');
  if (!result.ok) {
    $('users-error').textContent = result.status === 403 ? 'Only admins can manage accounts.' : result.message;
    $('user-rows').replaceChildren();
    return;
  }
  $('users-error').textContent = '';
  const { users, mfa } = result.data;
  $('users-summary').textContent = `${users.length} account(s). Second factor required for: ${mfa.requiredRoles.join(', ') || 'no role'}.`;
  $('user-rows').replaceChildren(...users.map(userRow));
}

function userRow(u: UserSummary): HTMLTableRowElement {
  const factor = u.source === 'sso' ? "school's provider" : u.secondFactor === 'totp' ? `authenticator (${u.recoveryCodesLeft} recovery codes)` : 'none';
  const tr = row([
    u.email ? `${u.username} · ${u.email}` : u.username,
    u.role,
    u.source === 'sso' ? 'school account' : 'local',
    factor,
    u.lastSignInAt ? new Date(u.lastSignInAt).toLocaleString('en-GB') : 'never',
    String(u.sessions),
    u.disabled ? 'Disabled' : 'Enabled',
    actions(u),
  ]);
  tr.dataset.username = u.username;
  return tr;
}

function actions(u: UserSummary): HTMLElement {
  const box = el('div', '', 'row-actions');
  const button = (text: string, run: () => Promise<void>) => {
    const b = el('button', text, 'secondary');
    b.type = 'button';
    b.setAttribute('aria-label', `${text}: ${u.username}`);
    b.addEventListener('click', () => void run());
    box.append(b);
  };
  const change = async (path: string, body: unknown) => {
    const result = await apiJson(Changed, `/api/v1/users/${encodeURIComponent(u.username)}${path}`, { method: 'POST', body: JSON.stringify(body) });
    if (!result.ok) $('users-error').textContent = result.message;
    await load();
  };
  if (u.source === 'local') {
    button('Change role', async () => {
      const select = el('select');
      for (const r of RoleSchema.options) select.append(Object.assign(el('option', r), { value: r, selected: r === u.role }));
      if (
        await confirmAction({
          title: `Role of ${u.username}`,
          text: 'Their open sessions end; they sign in again with the new role.',
          ok: 'Change role',
          fields: [field('Role', select)],
        })
      ) {
        await change('/role', { role: select.value as Role });
      }
    });
  }
  button(u.disabled ? 'Enable' : 'Disable', async () => {
    if (
      u.disabled ||
      (await confirmAction({
        title: `Disable ${u.username}?`,
        text: 'Their open sessions end at once and they cannot sign in until enabled.',
        ok: 'Disable',
        danger: true,
      }))
    ) {
      await change('/disabled', { disabled: !u.disabled });
    }
  });
  button('End sessions', async () => {
    if (
      await confirmAction({
        title: `End every session of ${u.username}?`,
        text: 'Their open dashboards and CLI sessions stop at once.',
        ok: 'End sessions',
        danger: true,
      })
    ) {
      await change('/sessions/end', {});
    }
  });
  if (u.source === 'local' && u.secondFactor === 'totp') {
    button('Reset second factor', async () => {
      if (
        await confirmAction({
          title: `Reset the second factor of ${u.username}?`,
          text: 'Their authenticator and recovery codes stop working; they set up a new one at their next sign-in.',
          ok: 'Reset',
          danger: true,
        })
      ) {
        await change('/second-factor/reset', {});
      }
    });
  }
  return box;
}

watchScrollRegions();
const check = wireSession((me) => void showUsers(me), showSignIn);
void check();
