import { z } from 'zod';
import { RecoveryCodesResponseSchema, SsoInfoSchema, SsoRefusalSchema, TotpEnrolResponseSchema, type SsoRefusal } from '../../src/shared/accounts.js';
import { RoleSchema } from '../../src/shared/roles.js';
import { api, apiJson, el } from './console-api.js';
import './sign-in.css';

/**
 * Signing in to the console from a staff page (the dashboard, the safeguarding queue). Both pages
 * carry the same form (#sign-in-form, #username, #password, #sign-in-error); the session is an
 * HttpOnly cookie the page never sees, so "who am I" is always asked of the console.
 *
 * This module adds what the pages' HTML does not carry: the "Sign in with …" button when the
 * console has single sign-on, the second-factor code when the account has one, the wording of a
 * refused single sign-on, and setting up an authenticator when the role requires one.
 */
export const MeSchema = z.object({ username: z.string(), role: RoleSchema, restricted: z.boolean().optional() });
export type Me = z.infer<typeof MeSchema>;

const byId = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

/** Why single sign-on was refused, in words for the person at the screen. */
const SSO_REFUSALS: Record<SsoRefusal, string> = {
  state: 'That sign-in link was already used, has expired, or was started in another browser. Start again with the button below.',
  provider: 'The sign-in provider did not complete the sign-in (it may have been cancelled). Try again.',
  token: 'The answer from the sign-in provider could not be verified, so it was refused. Try again; if it keeps happening, tell IT.',
  tenant: 'That account belongs to another organisation. Sign in with your school account.',
  domain: "That account is not one of the school's. Sign in with your school account.",
  'no-role':
    'You signed in, but your account has no Vigil role, so you cannot use the console. Ask the Vigil admin to give your account a role (by group or by name).',
  disabled: 'Your Vigil account is disabled. Ask the Vigil admin.',
  unavailable: 'The sign-in provider cannot be reached just now. Try again in a minute, or use a local account.',
};

/** The signed-in account, or null when there is no valid session. */
async function whoAmI(): Promise<Me | null> {
  const res = await api('/api/v1/me').catch(() => null);
  if (!res?.ok) return null;
  const me = MeSchema.safeParse(await res.json().catch(() => null));
  return me.success ? me.data : null;
}

/** The code field, added under the password the first time the console asks for it. */
function codeField(form: HTMLFormElement): HTMLInputElement {
  const existing = document.getElementById('sign-in-code') as HTMLInputElement | null;
  if (existing) return existing;
  const label = el('label', 'Code from your authenticator app (or a recovery code)');
  label.htmlFor = 'sign-in-code';
  const input = el('input');
  Object.assign(input, { id: 'sign-in-code', name: 'code', autocomplete: 'one-time-code', inputMode: 'text', required: true });
  form.querySelector('button[type="submit"]')!.before(label, input);
  return input;
}

/** Sends the form's credentials; a refusal is written under the form, success calls `signedIn`. */
function wireSignIn(signedIn: () => Promise<void>): void {
  const form = byId<HTMLFormElement>('sign-in-form');
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const username = byId<HTMLInputElement>('username').value.trim();
    const password = byId<HTMLInputElement>('password').value;
    const code = (document.getElementById('sign-in-code') as HTMLInputElement | null)?.value.trim();
    const res = await api('/api/v1/login', { method: 'POST', body: JSON.stringify({ username, password, ...(code ? { code } : {}) }) }).catch(() => null);
    if (!res?.ok) {
      const body = (await res?.json().catch(() => ({}))) as { error?: string; message?: string } | undefined;
      if (body?.error === 'second-factor-required') {
        codeField(form).focus();
        byId('sign-in-error').textContent = 'Enter the code from your authenticator app.';
        return;
      }
      byId('sign-in-error').textContent = res ? (body?.message ?? 'Sign-in failed.') : 'The console could not be reached.';
      return;
    }
    byId<HTMLInputElement>('password').value = '';
    document
      .getElementById('sign-in-code')
      ?.closest('form')
      ?.querySelectorAll('#sign-in-code, label[for="sign-in-code"]')
      .forEach((n) => n.remove());
    byId('sign-in-error').textContent = '';
    await signedIn();
  });
}

/** The "Sign in with …" link (a plain navigation: the console sends the browser to the provider). */
async function offerSingleSignOn(): Promise<void> {
  const info = await apiJson(SsoInfoSchema, '/api/v1/sso');
  if (!info.ok || !info.data.enabled || document.getElementById('sso-sign-in')) return;
  const link = el('a', `Sign in with ${info.data.label ?? 'your school account'}`, 'button sso');
  link.id = 'sso-sign-in';
  link.href = `/api/v1/sso/start?return=${encodeURIComponent(location.pathname)}`;
  const or = el('p', 'or with a Vigil account:', 'sign-in-or');
  byId('sign-in-form').before(link, or);
}

/** A refused single sign-on comes back as ?sign-in-error=<reason>; it is worded here, then taken off the address. */
function takeRefusal(): string | null {
  const params = new URLSearchParams(location.search);
  if (!params.has('sign-in-error')) return null;
  const reason = SsoRefusalSchema.safeParse(params.get('sign-in-error'));
  params.delete('sign-in-error');
  history.replaceState(null, '', `${location.pathname}${params.size ? `?${params}` : ''}${location.hash}`);
  return reason.success ? SSO_REFUSALS[reason.data] : 'Single sign-on was refused.';
}

/** A session that may only set up the second factor its role requires: the authenticator set-up. */
async function setUpSecondFactor(done: () => Promise<void>): Promise<void> {
  byId('sign-in').hidden = false;
  byId('sign-in-form').hidden = true;
  document.getElementById('sso-sign-in')?.remove();
  document.querySelector('.sign-in-or')?.remove();
  document.getElementById('totp-setup')?.remove();
  const box = el('div');
  box.id = 'totp-setup';
  const error = el('p', '', 'error');
  error.setAttribute('role', 'alert');
  box.append(
    el('h3', 'Set up your authenticator app'),
    el(
      'p',
      'Your role needs a second factor. Add this key to an authenticator app (Microsoft Authenticator, Google Authenticator, 1Password…), then enter the six-digit code it shows.',
    ),
  );
  byId('sign-in').append(box);
  const started = await apiJson(TotpEnrolResponseSchema, '/api/v1/me/totp', { method: 'POST', body: '{}' });
  if (!started.ok) return void box.append(Object.assign(error, { textContent: started.message }));
  const key = el('p', started.data.secret.replace(/(.{4})/g, '$1 ').trim(), 'totp-secret');
  key.id = 'totp-secret';
  const uri = el('p', started.data.uri, 'totp-uri');
  const form = el('form');
  const label = el('label', 'Six-digit code');
  label.htmlFor = 'totp-code';
  const input = el('input');
  Object.assign(input, { id: 'totp-code', autocomplete: 'one-time-code', inputMode: 'numeric', required: true });
  form.append(label, input, el('button', 'Turn on'), error);
  box.append(el('p', 'Key:'), key, el('p', 'Or, on this device, the set-up address:'), uri, form);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const confirmed = await apiJson(RecoveryCodesResponseSchema.loose(), '/api/v1/me/totp/confirm', {
      method: 'POST',
      body: JSON.stringify({ code: input.value.trim() }),
    });
    if (!confirmed.ok) return void (error.textContent = confirmed.message);
    form.remove();
    const list = el('ul', '', 'recovery-codes');
    list.id = 'recovery-codes';
    for (const code of confirmed.data.recoveryCodes) list.append(el('li', code));
    const next = el('button', 'I have saved these codes');
    next.type = 'button';
    next.addEventListener('click', async () => {
      box.remove();
      byId('sign-in-form').hidden = false;
      await done();
    });
    box.append(
      el('h3', 'Recovery codes'),
      el('p', 'Each code signs you in once if you lose your phone. Keep them somewhere safe: they are not shown again.'),
      list,
      next,
    );
    next.focus();
  });
  input.focus();
}

async function signOut(): Promise<void> {
  await api('/api/v1/logout', { method: 'POST', body: '{}' }).catch(() => null);
}

/**
 * Wires the sign-in form and the Sign out button (#sign-out). Returns the session check: it
 * calls `signedIn` with the account, or `signedOut` when there is no valid session.
 */
export function wireSession(signedIn: (me: Me) => void, signedOut: () => void): () => Promise<void> {
  let refusal = takeRefusal();
  const check = async (): Promise<void> => {
    const me = await whoAmI();
    if (me?.restricted) return setUpSecondFactor(check);
    if (me) signedIn(me);
    else {
      signedOut();
      // After the page's own sign-out view, which clears the message line.
      if (refusal) byId('sign-in-error').textContent = refusal;
      refusal = null;
      void offerSingleSignOn();
    }
  };
  wireSignIn(check);
  byId('sign-out').addEventListener('click', async () => {
    await signOut();
    signedOut();
  });
  return check;
}
