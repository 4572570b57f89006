import { expect, it } from 'vitest';
import { ConflictError } from '../../../src/console/errors.js';
import type { ConsoleStore, SessionRecord } from '../../../src/console/store/store.js';

/**
 * The accounts part of the console store contract (issue 14): sign-in sources, sessions per user,
 * identities linked by (issuer, subject), TOTP steps used once, recovery codes used once.
 * Called from storeContract (contract.ts), so every adapter runs it.
 */
export function accountsContract(open: () => Promise<{ store: ConsoleStore; reopen(): Promise<ConsoleStore> }>): void {
  const user = (username: string, source: 'local' | 'sso' = 'local') => ({
    username,
    role: 'technician' as const,
    passwordHash: source === 'local' ? 'scrypt$x' : '',
    createdAt: '2026-01-01T00:00:00.000Z',
    disabled: false,
    source,
  });
  const session = (tokenHash: string, username: string, createdAt: string): SessionRecord => ({
    tokenHash,
    username,
    role: 'technician',
    createdAt,
    expiresAt: '2099-01-01T00:00:00.000Z',
    lastUsedAt: createdAt,
    method: 'sso',
  });

  it('keeps where an account comes from, its last sign-in, role and disabled state', async () => {
    const { store, reopen } = await open();
    await store.createUser(user('ann', 'sso'));
    await store.createUser({ username: 'old', role: 'admin', passwordHash: 'scrypt$y', createdAt: '2026-01-01T00:00:00.000Z', disabled: false });
    expect(await store.setUserRole('ann', 'admin')).toBe(true);
    expect(await store.setUserRole('ann', 'admin')).toBe(false);
    expect(await store.setUserDisabled('ann', true)).toBe(true);
    expect(await store.setUserDisabled('ann', true)).toBe(false);
    expect(await store.setUserRole('nobody', 'admin')).toBe(false);
    await store.recordSignIn('ann', '2026-02-02T00:00:00.000Z');
    expect(await store.setPasswordHash('old', 'scrypt$z')).toBe(true);
    await store.close();
    const again = await reopen();
    expect(await again.getUser('ann')).toMatchObject({ source: 'sso', role: 'admin', disabled: true, lastSignInAt: '2026-02-02T00:00:00.000Z' });
    expect(await again.getUser('old')).toMatchObject({ source: 'local', lastSignInAt: null, passwordHash: 'scrypt$z' });
    await again.close();
  });

  it("lists and ends one user's sessions without touching anyone else's", async () => {
    const { store } = await open();
    await store.createUser(user('ann'));
    await store.createUser(user('bob'));
    await store.createSession(session('a1', 'ann', '2026-01-01T00:00:00.000Z'));
    await store.createSession({ ...session('a2', 'ann', '2026-01-02T00:00:00.000Z'), method: 'password+totp', restricted: true });
    await store.createSession(session('b1', 'bob', '2026-01-01T00:00:00.000Z'));
    const anns = await store.listSessionsFor('ann');
    expect(anns.map((s) => s.tokenHash)).toEqual(['a2', 'a1']);
    expect(anns[0]).toMatchObject({ method: 'password+totp', restricted: true });
    expect(anns[1]).toMatchObject({ method: 'sso', restricted: false });
    expect(await store.deleteSessionsFor('ann')).toBe(2);
    expect(await store.listSessionsFor('ann')).toEqual([]);
    expect(await store.getSession('b1')).not.toBeNull();
    await store.close();
  });

  it('links an identity once, by issuer and subject, and refuses a second link with a typed conflict', async () => {
    const { store } = await open();
    await store.createUser(user('ann', 'sso'));
    await store.createUser(user('bob', 'sso'));
    const identity = { issuer: 'https://idp.example', subject: 'sub-1', username: 'ann', email: 'ann@school.example', linkedAt: '2026-01-01T00:00:00.000Z' };
    await store.linkIdentity(identity);
    await expect(store.linkIdentity({ ...identity, username: 'bob' })).rejects.toBeInstanceOf(ConflictError);
    expect(await store.getIdentity('https://idp.example', 'sub-1')).toEqual(identity);
    // Same subject at another issuer is another person.
    expect(await store.getIdentity('https://other.example', 'sub-1')).toBeNull();
    expect(await store.listIdentitiesFor('ann')).toEqual([identity]);
    expect(await store.listIdentitiesFor('bob')).toEqual([]);
    await store.close();
  });

  it('accepts each TOTP time step once and only moving forward', async () => {
    const { store } = await open();
    await store.createUser(user('ann'));
    await store.putTotp({ username: 'ann', secret: 'AAAA', createdAt: 't', confirmedAt: null, lastStep: 0 });
    // An unconfirmed secret may be replaced (enrolment started again).
    await store.putTotp({ username: 'ann', secret: 'BBBB', createdAt: 't2', confirmedAt: null, lastStep: 0 });
    expect(await store.confirmTotp('ann', 'c', 100)).toBe(true);
    expect(await store.confirmTotp('ann', 'c', 101)).toBe(false);
    expect(await store.getTotp('ann')).toEqual({ username: 'ann', secret: 'BBBB', createdAt: 't2', confirmedAt: 'c', lastStep: 100 });
    expect(await store.useTotpStep('ann', 100)).toBe(false);
    expect(await store.useTotpStep('ann', 99)).toBe(false);
    expect(await store.useTotpStep('ann', 101)).toBe(true);
    expect(await store.useTotpStep('ann', 101)).toBe(false);
    await store.close();
  });

  it('uses each recovery code once, and forgets them all with the second factor', async () => {
    const { store } = await open();
    await store.createUser(user('ann'));
    await store.createUser(user('bob'));
    await store.putTotp({ username: 'ann', secret: 'AAAA', createdAt: 't', confirmedAt: 'c', lastStep: 5 });
    await store.replaceRecoveryCodes('ann', ['h1', 'h2']);
    await store.replaceRecoveryCodes('bob', ['h1']);
    expect(await store.useRecoveryCode('ann', 'h1', 'u')).toBe(true);
    expect(await store.useRecoveryCode('ann', 'h1', 'u')).toBe(false);
    expect(await store.useRecoveryCode('ann', 'nope', 'u')).toBe(false);
    expect(await store.countUnusedRecoveryCodes('ann')).toBe(1);
    expect(await store.countUnusedRecoveryCodes('bob')).toBe(1);
    await store.replaceRecoveryCodes('ann', ['h3', 'h4', 'h5']);
    expect(await store.countUnusedRecoveryCodes('ann')).toBe(3);
    await store.deleteSecondFactor('ann');
    expect(await store.getTotp('ann')).toBeNull();
    expect(await store.countUnusedRecoveryCodes('ann')).toBe(0);
    expect(await store.countUnusedRecoveryCodes('bob')).toBe(1);
    await store.close();
  });
}
