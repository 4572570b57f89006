import { z } from 'zod';
import { RoleSchema } from '../../src/shared/roles.js';
import { api } from './console-api.js';

/**
 * Signing in to the console from a staff page (the dashboard, the safeguarding queue). Both pages
 * carry the same form (#sign-in-form, #username, #password, #sign-in-error); the session is an
 * HttpOnly cookie the page never sees, so "who am I" is always asked of the console.
 */
export const MeSchema = z.object({ username: z.string(), role: RoleSchema });
export type Me = z.infer<typeof MeSchema>;

const byId = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

/** The signed-in account, or null when there is no valid session. */
async function whoAmI(): Promise<Me | null> {
  const res = await api('/api/v1/me').catch(() => null);
  if (!res?.ok) return null;
  const me = MeSchema.safeParse(await res.json().catch(() => null));
  return me.success ? me.data : null;
}

/** Sends the form's credentials; a refusal is written under the form, success calls `signedIn`. */
function wireSignIn(signedIn: () => Promise<void>): void {
  byId<HTMLFormElement>('sign-in-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const username = byId<HTMLInputElement>('username').value.trim();
    const password = byId<HTMLInputElement>('password').value;
    const res = await api('/api/v1/login', { method: 'POST', body: JSON.stringify({ username, password }) }).catch(() => null);
    if (!res?.ok) {
      const body = (await res?.json().catch(() => ({}))) as { message?: string } | undefined;
      byId('sign-in-error').textContent = res ? (body?.message ?? 'Sign-in failed.') : 'The console could not be reached.';
      return;
    }
    byId<HTMLInputElement>('password').value = '';
    await signedIn();
  });
}

async function signOut(): Promise<void> {
  await api('/api/v1/logout', { method: 'POST', body: '{}' }).catch(() => null);
}

/**
 * Wires the sign-in form and the Sign out button (#sign-out). Returns the session check: it
 * calls `signedIn` with the account, or `signedOut` when there is no valid session.
 */
export function wireSession(signedIn: (me: Me) => void, signedOut: () => void): () => Promise<void> {
  const check = async () => {
    const me = await whoAmI();
    if (me) signedIn(me);
    else signedOut();
  };
  wireSignIn(check);
  byId('sign-out').addEventListener('click', async () => {
    await signOut();
    signedOut();
  });
  return check;
}
