import { join } from 'node:path';
import AxeBuilder from '@axe-core/playwright';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, screenshot } from '../helpers/browser.js';
import { startConsoleProcess, type ConsoleHandle } from '../helpers/fleet.js';
import { startTestProvider, writeSsoConfig, type TestProvider } from '../helpers/oidc.js';
import { existsSync, readFileSync } from 'node:fs';
import { CLI, freePort, startProcess, stopAll, tempDir } from '../helpers/processes.js';

/**
 * Staff single sign-on end to end: a real console process, a real OpenID provider process
 * (oidc-provider, standing in for Entra ID / Google Workspace) and Debian's Chromium. Nothing is
 * mocked; the hostile cases alter one thing in the provider's real answer (see oidc-provider.mjs).
 */
const TENANT = '11111111-2222-3333-4444-555555555555';
const GROUP_TECH = 'aaaaaaaa-0000-0000-0000-00000000tech';
const GROUP_ADMIN = 'aaaaaaaa-0000-0000-0000-0000000admin';
/** Keyed by login name at the test provider, which is also their subject. */
const people = {
  ann: { email: 'ann.smith@school.example', email_verified: true, name: 'Ann Smith', tid: TENANT, groups: [GROUP_TECH] },
  nobody: { email: 'no.role@school.example', email_verified: true, name: 'No Role', tid: TENANT, groups: ['some-other-group'] },
  outsider: { email: 'eve@elsewhere.example', email_verified: true, tid: '99999999-0000-0000-0000-000000000000', groups: [GROUP_ADMIN] },
  head: { email: 'head@school.example', email_verified: true, tid: TENANT, groups: [] },
};

let dir: ReturnType<typeof tempDir>;
let op: TestProvider;
let consoleProc: ConsoleHandle;
let browser: Browser;

beforeAll(async () => {
  dir = tempDir();
  const port = await freePort();
  const consoleUrl = `http://127.0.0.1:${port}`;
  op = await startTestProvider([`${consoleUrl}/api/v1/sso/callback`], people);
  const config = writeSsoConfig(dir.path, op.issuer, consoleUrl, {
    allowedTenants: [TENANT],
    groupRoles: [
      { group: GROUP_ADMIN, role: 'admin' },
      { group: GROUP_TECH, role: 'technician' },
    ],
    userRoles: [{ email: 'head@school.example', role: 'safeguarding_lead' }],
  });
  consoleProc = await startConsoleProcess(join(dir.path, 'console'), { port, args: ['--sso-config', config] });
  browser = await launchChromium();
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await stopAll();
  dir?.remove();
});

/** Opens the dashboard, presses "Sign in with …", signs in at the provider as `login`, and waits to be back. */
async function signInAt(context: BrowserContext, login: string, shot?: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${consoleProc.url}/`);
  await page.locator('#sso-sign-in').click();
  await page.waitForURL((url) => url.href.startsWith(op.issuer));
  await page.fill('input[name="login"]', login);
  await page.fill('input[name="password"]', 'anything');
  if (shot) await screenshot(page, shot);
  await page.click('button[type="submit"]');
  await page.waitForURL((url) => url.href.startsWith(consoleProc.url) && !url.pathname.startsWith('/api/'));
  return page;
}

/** axe-core's WCAG 2.1 A/AA rules on the page as it is now. */
const axeViolations = async (page: Page) =>
  (await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze()).violations.map((v) => `${v.id}: ${v.help}`);
const me = (page: Page) => page.evaluate(async () => (await fetch('/api/v1/me')).json());
const auditFor = async (action: string) =>
  ((await consoleProc.api('/api/v1/audit?limit=1000')).body.audit as { action: string; target: string | null; detail: Record<string, unknown> }[]).filter(
    (a) => a.action === action,
  );

describe('single sign-on through a real OpenID provider', () => {
  it('signs a member of a mapped group in with that role, linked to the provider subject, and audits it', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${consoleProc.url}/`);
    await page.locator('#sso-sign-in').waitFor();
    expect(await page.locator('#sso-sign-in').textContent()).toBe('Sign in with School account');
    await screenshot(page, 'sign-in-with-sso-button');
    expect(await axeViolations(page)).toEqual([]);
    await page.close();

    const signedIn = await signInAt(context, 'ann', 'sign-in-provider-login');
    await signedIn.waitForSelector('#devices:not([hidden])');
    await screenshot(signedIn, 'sign-in-sso-signed-in');
    expect(await me(signedIn)).toMatchObject({ role: 'technician', source: 'sso', restricted: false });
    const { users } = (await consoleProc.api('/api/v1/users')).body;
    const ann = users.find((u: { email: string | null }) => u.email === 'ann.smith@school.example');
    expect(ann).toMatchObject({ role: 'technician', source: 'sso', disabled: false, sessions: 1 });
    expect(ann.lastSignInAt).not.toBeNull();
    expect((await auditFor('user.signed-in')).some((a) => a.target === ann.username && a.detail.method === 'sso')).toBe(true);
    // The cookie the console set: HttpOnly and SameSite=Strict (Secure is added under TLS).
    const session = (await context.cookies()).find((c) => c.name === 'vigil_session')!;
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
    await context.close();
  });

  it('gives a person named on the console their role whatever their groups', async () => {
    const context = await browser.newContext();
    const page = await signInAt(context, 'head');
    await page.waitForSelector('#devices:not([hidden])');
    expect(await me(page)).toMatchObject({ role: 'safeguarding_lead' });
    await context.close();
  });

  it('refuses a person with no mapped role with a page that says why, and creates no account', async () => {
    const context = await browser.newContext();
    const page = await signInAt(context, 'nobody');
    await page.waitForFunction(() => document.getElementById('sign-in-error')?.textContent?.includes('no Vigil role'));
    await screenshot(page, 'sign-in-sso-no-role');
    expect(await axeViolations(page)).toEqual([]);
    expect(await page.locator('#devices').isHidden()).toBe(true);
    expect(new URL(page.url()).search).toBe('');
    const { users } = (await consoleProc.api('/api/v1/users')).body;
    expect(users.some((u: { email: string | null }) => u.email === 'no.role@school.example')).toBe(false);
    expect((await auditFor('user.sso-refused')).some((a) => a.detail.refusal === 'no-role' && a.target === 'nobody')).toBe(true);
    await context.close();
  });

  it('refuses an account of another tenant even when its groups would map', async () => {
    const context = await browser.newContext();
    const page = await signInAt(context, 'outsider');
    await page.waitForFunction(() => document.getElementById('sign-in-error')?.textContent?.includes('another organisation'));
    expect((await auditFor('user.sso-refused')).some((a) => a.detail.refusal === 'tenant')).toBe(true);
    await context.close();
  });

  // Each case alters exactly one thing in the provider's real token response; the console must
  // refuse it, and the audit must name that check (so the test fails if the check were missing).
  const tampered = [
    ['a tampered id_token signature', 'signature', /signature/i],
    ['a wrong issuer', 'issuer', /"iss"/],
    ['a wrong audience', 'audience', /"aud"/],
    ['an expired id_token', 'expired', /"exp"/],
    ['a nonce from an earlier sign-in', 'nonce', /"nonce"/],
  ] as const;
  for (const [what, mode, reason] of tampered) {
    it(`refuses ${what}`, async () => {
      const before = (await auditFor('user.sso-refused')).length;
      await op.tamper(mode);
      const context = await browser.newContext();
      const page = await signInAt(context, 'ann');
      await page.waitForFunction(() => document.getElementById('sign-in-error')?.textContent?.includes('could not be verified'));
      if (mode === 'signature') await screenshot(page, 'sign-in-sso-token-refused');
      expect(await page.evaluate(async () => (await fetch('/api/v1/me')).status)).toBe(401);
      const refusals = (await auditFor('user.sso-refused')).slice(0, (await auditFor('user.sso-refused')).length - before);
      expect(refusals.length).toBe(1);
      expect(refusals[0]!.detail.refusal).toBe('token');
      expect(String(refusals[0]!.detail.reason)).toMatch(reason);
      await context.close();
    });
  }

  it('refuses a replayed state, even with the state cookie put back, and a callback opened in another browser', async () => {
    const context = await browser.newContext();
    let callback = '';
    context.on('request', (r) => {
      if (r.url().includes('/api/v1/sso/callback')) callback = r.url();
    });
    const page = await signInAt(context, 'ann');
    await page.waitForSelector('#devices:not([hidden])');
    expect(callback).toContain('state=');
    const state = new URL(callback).searchParams.get('state')!;

    // The same browser, the state cookie restored: the console used that state already.
    const replay = await context.newPage();
    await context.addCookies([{ name: 'vigil_sso_state', value: state, url: `${consoleProc.url}/api/v1/sso` }]);
    await context.clearCookies({ name: 'vigil_session' });
    await replay.goto(callback);
    await replay.waitForFunction(() => document.getElementById('sign-in-error')?.textContent?.includes('already used'));
    expect(await replay.evaluate(async () => (await fetch('/api/v1/me')).status)).toBe(401);

    // A flow someone else started (login CSRF): its state is live, but this browser lacks its cookie.
    const started = await fetch(`${consoleProc.url}/api/v1/sso/start`, { redirect: 'manual' });
    const liveState = new URL(started.headers.get('location')!).searchParams.get('state')!;
    const victim = await browser.newContext();
    const v = await victim.newPage();
    await v.goto(`${consoleProc.url}/api/v1/sso/callback?state=${liveState}&code=stolen-code`);
    await v.waitForFunction(() => document.getElementById('sign-in-error')?.textContent?.includes('another browser'));
    expect(await v.evaluate(async () => (await fetch('/api/v1/me')).status)).toBe(401);
    const states = (await auditFor('user.sso-refused')).filter((r) => r.detail.refusal === 'state');
    expect(states.map((r) => r.detail.reason).sort()).toEqual(['state cookie does not match', 'unknown, used or expired state']);
    await Promise.all([context.close(), victim.close()]);
  });

  it('applies a group change at the next sign-in and ends the sessions granted under the old role', async () => {
    const context = await browser.newContext();
    const first = await signInAt(context, 'ann');
    await first.waitForSelector('#devices:not([hidden])');
    expect(await me(first)).toMatchObject({ role: 'technician' });
    const other = await browser.newContext();
    const old = await signInAt(other, 'ann');
    await old.waitForSelector('#devices:not([hidden])');

    await op.setPerson('ann', { ...people.ann, groups: [GROUP_ADMIN] });
    const third = await browser.newContext();
    const again = await signInAt(third, 'ann');
    await again.waitForSelector('#devices:not([hidden])');
    expect(await me(again)).toMatchObject({ role: 'admin' });
    expect(await old.evaluate(async () => (await fetch('/api/v1/me')).status)).toBe(401);
    expect((await auditFor('user.role-changed')).some((a) => a.detail.from === 'technician' && a.detail.to === 'admin')).toBe(true);
    await op.setPerson('ann', people.ann);
    await Promise.all([context.close(), other.close(), third.close()]);
  });

  it("ends a disabled person's open dashboard at once and refuses their next single sign-on", async () => {
    const context = await browser.newContext();
    const page = await signInAt(context, 'head');
    await page.waitForSelector('#devices:not([hidden])');
    const { users } = (await consoleProc.api('/api/v1/users')).body;
    const head = users.find((u: { email: string | null }) => u.email === 'head@school.example');
    expect((await consoleProc.api(`/api/v1/users/${head.username}/disabled`, { method: 'POST', body: JSON.stringify({ disabled: true }) })).status).toBe(200);
    expect(await page.evaluate(async () => (await fetch('/api/v1/devices')).status)).toBe(401);
    const later = await browser.newContext();
    const again = await signInAt(later, 'head');
    await again.waitForFunction(() => document.getElementById('sign-in-error')?.textContent?.includes('disabled'));
    await consoleProc.api(`/api/v1/users/${head.username}/disabled`, { method: 'POST', body: JSON.stringify({ disabled: false }) });
    await Promise.all([context.close(), later.close()]);
  });

  it('signs the CLI in through the browser on a loopback redirect and saves the session (vigil login --sso)', async () => {
    const home = join(dir.path, 'cli-home');
    const cli = startProcess([CLI, 'login', '--sso', '--console', consoleProc.url], { XDG_CONFIG_HOME: home, VIGIL_NO_BROWSER: '1' });
    const [, address] = await cli.waitFor(/(http:\/\/127\.0\.0\.1:\d+\/api\/v1\/sso\/start\?\S+)/, 20_000, 'stderr');
    expect(address).toMatch(/cli_port=\d+&cli_challenge=[A-Za-z0-9_-]{43}/);
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(address!);
    await page.fill('input[name="login"]', 'ann');
    await page.fill('input[name="password"]', 'anything');
    await page.click('button[type="submit"]');
    await page.waitForFunction(() => document.body.textContent?.includes('Signed in to Vigil'));
    await screenshot(page, 'sign-in-cli-loopback-done');
    await cli.waitFor(/signed in as (\S+) \(technician\)/, 20_000);
    expect(await cli.exited).toBe(0);
    const file = join(home, 'vigil', 'cli-session.json');
    expect(existsSync(file)).toBe(true);
    const saved = JSON.parse(readFileSync(file, 'utf8'));
    expect((await consoleProc.api('/api/v1/me', { token: saved.token })).body).toMatchObject({ role: 'technician', source: 'sso' });
    // A code the console never gave out (or one already traded) gets nothing.
    const replay = await fetch(`${consoleProc.url}/api/v1/sso/cli`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ code: 'A'.repeat(43), verifier: 'B'.repeat(64) }),
    });
    expect(replay.status).toBe(401);
    await context.close();
  });
});
