import { join } from 'node:path';
import { Secret, TOTP } from 'otpauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startConsoleProcess, type ConsoleHandle } from '../helpers/fleet.js';
import { runCli, stopAll, tempDir } from '../helpers/processes.js';

/** Local accounts against a real console process: second factor, account management, sessions, cross-site refusal. */
let dir: ReturnType<typeof tempDir>;
let consoleProc: ConsoleHandle;
const PASSWORD = 'a-long-teacher-password';

beforeAll(async () => {
  dir = tempDir();
  consoleProc = await startConsoleProcess(join(dir.path, 'console'));
}, 60_000);
afterAll(async () => {
  await stopAll();
  dir?.remove();
});

const login = (username: string, extra: Record<string, string> = {}) =>
  consoleProc.api('/api/v1/login', { method: 'POST', body: JSON.stringify({ username, password: PASSWORD, ...extra }), token: null });
const as = (token: string, path: string, init: RequestInit = {}) => consoleProc.api(path, { ...init, token });
const post = (path: string, body: unknown = {}) => consoleProc.api(path, { method: 'POST', body: JSON.stringify(body) });
const totpFor = (secret: string) => new TOTP({ algorithm: 'SHA1', digits: 6, period: 30, secret: Secret.fromBase32(secret) });

async function addUser(username: string, role: string) {
  expect((await post('/api/v1/users', { username, password: PASSWORD, role })).status).toBe(201);
}

describe('local accounts', () => {
  it('sets up TOTP, then asks for the code, takes each code and each recovery code once, and limits guessing', async () => {
    await addUser('tess', 'technician');
    const first = await login('tess');
    expect(first.status).toBe(200);
    const enrol = await as(first.body.token, '/api/v1/me/totp', { method: 'POST', body: '{}' });
    expect(enrol.status).toBe(200);
    expect(enrol.body.uri).toMatch(/^otpauth:\/\/totp\/Vigil:tess\?/);
    const totp = totpFor(enrol.body.secret);
    expect(
      (
        await as(first.body.token, '/api/v1/me/totp/confirm', {
          method: 'POST',
          body: JSON.stringify({ code: '000000' === totp.generate() ? '111111' : '000000' }),
        })
      ).status,
    ).toBe(400);
    const confirmed = await as(first.body.token, '/api/v1/me/totp/confirm', { method: 'POST', body: JSON.stringify({ code: totp.generate() }) });
    expect(confirmed.status).toBe(200);
    const codes: string[] = confirmed.body.recoveryCodes;
    expect(codes).toHaveLength(10);
    // Confirming rotated the session: the old token is gone, the new one works.
    expect((await as(first.body.token, '/api/v1/me')).status).toBe(401);
    expect((await as(confirmed.body.session.token, '/api/v1/me')).status).toBe(200);

    const noCode = await login('tess');
    expect(noCode.status).toBe(401);
    expect(noCode.body.error).toBe('second-factor-required');
    // The code used to confirm is spent: the same time step is not accepted again.
    expect((await login('tess', { code: totp.generate() })).body.error).toBe('bad-second-factor');

    const withRecovery = await login('tess', { code: codes[0]! });
    expect(withRecovery.status).toBe(200);
    expect((await login('tess', { code: codes[0]! })).body.error).toBe('bad-second-factor');
    const users = (await consoleProc.api('/api/v1/users')).body.users;
    expect(users.find((u: { username: string }) => u.username === 'tess')).toMatchObject({ secondFactor: 'totp', recoveryCodesLeft: 9 });

    // Guessing: five failures since the last success (the reused recovery code and four guesses)
    // lock the account, even for a right recovery code.
    for (let i = 0; i < 4; i++) expect((await login('tess', { code: '123456' })).status).toBe(401);
    const locked = await login('tess', { code: codes[1]! });
    expect(locked.status).toBe(429);
    const audit = (await consoleProc.api('/api/v1/audit?limit=200')).body.audit as { action: string; target: string; detail: { reason?: string } }[];
    expect(audit.filter((a) => a.action === 'user.sign-in-failed' && a.target === 'tess' && a.detail.reason === 'bad-second-factor').length).toBe(6);
  });

  it('holds a role that requires a second factor to setting one up, then lets it in', async () => {
    await addUser('sam', 'systems_manager');
    expect((await consoleProc.api('/api/v1/settings/mfa', { method: 'PUT', body: JSON.stringify({ requiredRoles: ['systems_manager'] }) })).status).toBe(200);
    const s = await login('sam');
    expect(s.body.restricted).toBe(true);
    expect((await as(s.body.token, '/api/v1/policies')).body.error).toBe('second-factor-setup-required');
    const enrol = await as(s.body.token, '/api/v1/me/totp', { method: 'POST', body: '{}' });
    const confirmed = await as(s.body.token, '/api/v1/me/totp/confirm', {
      method: 'POST',
      body: JSON.stringify({ code: totpFor(enrol.body.secret).generate() }),
    });
    expect(confirmed.body.session.restricted).toBe(false);
    expect((await as(confirmed.body.session.token, '/api/v1/policies')).status).toBe(200);
  });

  it("ends a user's sessions at once on a role change, a disable, a password reset; lists and ends single sessions", async () => {
    await addUser('rita', 'technician');
    const a = (await login('rita')).body.token;
    expect((await as(a, '/api/v1/events')).status).toBe(200);
    expect((await post('/api/v1/users/rita/role', { role: 'safeguarding_lead' })).body.changed).toBe(true);
    expect((await as(a, '/api/v1/events')).status).toBe(401);
    const b = await login('rita');
    expect(b.body.role).toBe('safeguarding_lead');
    expect((await as(b.body.token, '/api/v1/events')).status).toBe(403);

    const c = (await login('rita')).body.token;
    const sessions = (await consoleProc.api('/api/v1/users/rita/sessions')).body.sessions as { id: string }[];
    expect(sessions).toHaveLength(2);
    expect(JSON.stringify(sessions)).not.toContain(c);
    expect((await post(`/api/v1/users/rita/sessions/${sessions[0]!.id}/end`)).body.ended).toBe(1);
    expect([(await as(b.body.token, '/api/v1/me')).status, (await as(c, '/api/v1/me')).status].sort()).toEqual([200, 401]);

    expect((await post('/api/v1/users/rita/disabled', { disabled: true })).body.changed).toBe(true);
    expect((await consoleProc.api('/api/v1/users/rita/sessions')).body.sessions).toEqual([]);
    expect((await login('rita')).status).toBe(401);
    await post('/api/v1/users/rita/disabled', { disabled: false });
    const d = (await login('rita')).body.token;
    expect((await post('/api/v1/users/rita/password', { password: 'another-long-password' })).status).toBe(200);
    expect((await as(d, '/api/v1/me')).status).toBe(401);
    expect((await login('rita')).status).toBe(401);
    const actions = ((await consoleProc.api('/api/v1/audit?limit=200')).body.audit as { action: string; target: string; actor: string }[])
      .filter((x) => x.target === 'rita' && x.actor === 'admin')
      .map((x) => x.action);
    expect(actions).toEqual(expect.arrayContaining(['user.role-changed', 'user.sessions-ended', 'user.disabled', 'user.enabled', 'user.password-reset']));
  });

  it('keeps the last enabled admin, and refuses bad input without changing anything', async () => {
    expect((await post('/api/v1/users/admin/disabled', { disabled: true })).body.error).toBe('last-admin');
    expect((await post('/api/v1/users/admin/role', { role: 'technician' })).body.error).toBe('last-admin');
    expect((await post('/api/v1/users/NOT%20A%20USER/role', { role: 'admin' })).status).toBe(400);
    expect((await post('/api/v1/users/nobody-here/role', { role: 'admin' })).status).toBe(404);
    expect((await post('/api/v1/users/rita/role', { role: 'owner' })).status).toBe(400);
    expect((await post('/api/v1/users/rita/sessions/zzzz/end')).status).toBe(400);
    expect((await consoleProc.api('/api/v1/me')).body).toMatchObject({ username: 'admin', role: 'admin' });
  });

  it('refuses a cross-site state-changing request that carries the session cookie', async () => {
    const admin = await consoleProc.api('/api/v1/login', {
      method: 'POST',
      body: JSON.stringify({ username: 'admin', password: 'correct-horse-battery-staple' }),
      token: null,
    });
    const cookie = `vigil_session=${admin.body.token}`;
    const attempt = (headers: Record<string, string>) =>
      fetch(`${consoleProc.url}/api/v1/users`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', cookie, ...headers },
        body: JSON.stringify({ username: 'csrf-made', password: PASSWORD, role: 'admin' }),
      });
    expect((await attempt({ origin: 'https://evil.example' })).status).toBe(403);
    expect((await attempt({ 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect((await attempt({})).status).toBe(403);
    expect((await consoleProc.api('/api/v1/users')).body.users.some((u: { username: string }) => u.username === 'csrf-made')).toBe(false);
    // The console's own page (same origin) may.
    expect((await attempt({ origin: consoleProc.url, 'sec-fetch-site': 'same-origin' })).status).toBe(201);
  });

  it('manages accounts from the CLI too (vigil user list / role / sessions / end-sessions)', async () => {
    await addUser('cli-person', 'technician');
    await login('cli-person');
    const env = { VIGIL_TOKEN: consoleProc.token, XDG_CONFIG_HOME: dir.path };
    const list = await runCli(['user', 'list', '--console', consoleProc.url], env);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/cli-person\s+technician\s+local\s+enabled/);
    const sessions = await runCli(['user', 'sessions', 'cli-person', '--console', consoleProc.url], env);
    expect(sessions.stdout).toMatch(/^[0-9a-f]{16} {2}password/m);
    expect((await runCli(['user', 'role', 'cli-person', 'admin', '--console', consoleProc.url], env)).code).toBe(0);
    expect((await runCli(['user', 'role', 'cli-person', 'owner', '--console', consoleProc.url], env)).code).not.toBe(0);
    const ended = await runCli(['user', 'end-sessions', 'cli-person', '--console', consoleProc.url], env);
    expect(ended.stdout).toContain('ended 0 session(s)');
    const users = (await consoleProc.api('/api/v1/users')).body.users;
    expect(users.find((u: { username: string }) => u.username === 'cli-person')).toMatchObject({ role: 'admin', sessions: 0 });
  });
});
