import { z } from 'zod';
import { CliSsoRedeemRequestSchema, MfaPolicySchema, RecoveryCodesResponseSchema, TotpConfirmRequestSchema, type SsoRefusal } from '../shared/accounts.js';
import { LoginRequestSchema } from '../shared/api.js';
import { type AuthService, cookie, type IssuedSession, SESSION_COOKIE } from './auth.js';
import { readJson } from './http/body.js';
import { HttpError } from './http/http-error.js';
import type { RouteResult, Router } from './http/router.js';
import type { SecondFactorService } from './second-factor.js';
import type { OidcSignIn } from './sso/oidc-sign-in.js';
import type { ConsoleStore } from './store/store.js';

export interface SignInRouteDeps {
  store: ConsoleStore;
  auth: AuthService;
  secondFactor: SecondFactorService;
  /** Null when no --sso-config was given. */
  sso: OidcSignIn | null;
  secureCookies: boolean;
}

const SSO_STATE_COOKIE = 'vigil_sso_state';
/** Where the browser may be sent back to after single sign-on: one of the console's own pages. */
const ReturnPath = z.string().regex(/^\/(?!\/)[A-Za-z0-9/_-]{0,100}$/);
const CliPort = z.coerce.number().int().min(1024).max(65535);
const CliChallenge = z.string().regex(/^[A-Za-z0-9_-]{43}$/);

/**
 * Signing in and out: password (+ second factor), single sign-on through the school's OpenID
 * provider (browser and CLI), and setting up one's own second factor. Session cookies are
 * HttpOnly and SameSite=Strict (Secure under TLS); every sign-in issues a new token.
 */
export function registerSignInRoutes(router: Router, deps: SignInRouteDeps): void {
  const { store, auth, secondFactor, sso } = deps;
  const secure = deps.secureCookies ? '; Secure' : '';
  const sessionCookie = (s: IssuedSession) =>
    `${SESSION_COOKIE}=${s.token}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${Math.floor((Date.parse(s.expiresAt) - Date.now()) / 1000)}${secure}`;
  const audit = (actor: string, action: string, target: string | null, detail: Record<string, unknown> = {}) =>
    store.appendAudit({ at: new Date().toISOString(), actor, action, target, detail });
  const redirect = (location: string, cookies: string[] = []): RouteResult => ({
    status: 303,
    raw: '',
    contentType: 'text/plain; charset=utf-8',
    headers: { Location: location, ...(cookies.length ? { 'Set-Cookie': cookies } : {}) },
  });
  const needSso = () => {
    if (!sso) throw new HttpError(404, 'sso-not-configured', 'single sign-on is not set up on this console');
    return sso;
  };

  router
    .add('POST', '/api/v1/login', 'public', async ({ req, ip }) => {
      const body = await readJson(req, LoginRequestSchema);
      try {
        const session = await auth.login(body.username, body.password, ip, body.code);
        await audit(body.username, 'user.signed-in', body.username, { ip, method: body.code ? 'password+code' : 'password', restricted: session.restricted });
        return { status: 200, body: session, headers: { 'Set-Cookie': sessionCookie(session) } };
      } catch (error) {
        if (error instanceof HttpError && (error.code === 'bad-credentials' || error.code === 'bad-second-factor')) {
          await audit('anonymous', 'user.sign-in-failed', body.username.slice(0, 64), { ip, reason: error.code });
        }
        throw error;
      }
    })
    .add('POST', '/api/v1/logout', 'signed-in', async ({ principal }) => {
      await auth.logout(principal!);
      return { status: 200, body: { ok: true }, headers: { 'Set-Cookie': `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0${secure}` } };
    })
    .add('GET', '/api/v1/me', 'signed-in', async ({ principal }) => {
      const user = await store.getUser(principal!.username);
      return {
        status: 200,
        body: {
          username: principal!.username,
          role: principal!.role,
          restricted: principal!.restricted ?? false,
          source: user?.source ?? 'local',
          secondFactor: await secondFactor.isEnrolled(principal!.username),
        },
      };
    })

    // One's own second factor. 'signed-in' so that a restricted session can reach it.
    .add('POST', '/api/v1/me/totp', 'signed-in', async ({ principal }) => {
      const user = await store.getUser(principal!.username);
      if (user?.source === 'sso') throw new HttpError(409, 'sso-account', "your school's sign-in provider handles your second factor");
      return { status: 200, body: await secondFactor.startEnrolment(principal!.username) };
    })
    .add('POST', '/api/v1/me/totp/confirm', 'signed-in', async ({ req, principal }) => {
      const body = await readJson(req, TotpConfirmRequestSchema);
      const recoveryCodes = await secondFactor.confirmEnrolment(principal!.username, body.code);
      await audit(principal!.username, 'user.second-factor-enrolled', principal!.username, { kind: 'totp' });
      // Privilege change (a restricted session becomes a full one): a new token replaces the old.
      const session = await auth.rotate(principal!, 'password+totp');
      return {
        status: 200,
        body: { ...RecoveryCodesResponseSchema.parse({ recoveryCodes }), session },
        headers: { 'Set-Cookie': sessionCookie(session) },
      };
    })

    .add('GET', '/api/v1/settings/mfa', 'users:manage', async () => ({ status: 200, body: await secondFactor.policy() }))
    .add('PUT', '/api/v1/settings/mfa', 'users:manage', async ({ req, principal }) => {
      const body = await readJson(req, MfaPolicySchema);
      await secondFactor.setPolicy(body);
      await audit(principal!.username, 'settings.mfa-changed', null, { requiredRoles: body.requiredRoles });
      return { status: 200, body: await secondFactor.policy() };
    })

    .add('GET', '/api/v1/sso', 'public', async () => ({ status: 200, body: { enabled: !!sso, label: sso?.label ?? null } }))
    .add('GET', '/api/v1/sso/start', 'public', async ({ url }) => {
      const provider = needSso();
      const returnTo = ReturnPath.safeParse(url.searchParams.get('return') ?? '/');
      if (!returnTo.success) throw new HttpError(400, 'invalid-request', 'return must be a path on this console');
      let cli: { port: number; challenge: string } | null = null;
      if (url.searchParams.has('cli_port') || url.searchParams.has('cli_challenge')) {
        const port = CliPort.safeParse(url.searchParams.get('cli_port'));
        const challenge = CliChallenge.safeParse(url.searchParams.get('cli_challenge'));
        if (!port.success || !challenge.success) throw new HttpError(400, 'invalid-request', 'cli_port and cli_challenge must both be given and valid');
        cli = { port: port.data, challenge: challenge.data };
      }
      try {
        const { url: to, state } = await provider.start(returnTo.data, cli);
        // Lax: the provider's redirect back is a top-level GET from another site.
        return redirect(to, [`${SSO_STATE_COOKIE}=${state}; HttpOnly; SameSite=Lax; Path=/api/v1/sso; Max-Age=600${secure}`]);
      } catch {
        return redirect(refusedPage(returnTo.data, 'unavailable'));
      }
    })
    .add('GET', '/api/v1/sso/callback', 'public', async ({ req, url, ip }) => {
      const provider = needSso();
      const outcome = await provider.finish(url.searchParams, cookie(req, SSO_STATE_COOKIE), ip);
      const clearState = `${SSO_STATE_COOKIE}=; HttpOnly; SameSite=Lax; Path=/api/v1/sso; Max-Age=0${secure}`;
      if (outcome.cliRedirect) return redirect(outcome.cliRedirect, [clearState]);
      if (!outcome.ok) return redirect(refusedPage(outcome.returnTo, outcome.refusal), [clearState]);
      return redirect(outcome.returnTo, [clearState, sessionCookie(outcome.session!)]);
    })
    .add('POST', '/api/v1/sso/cli', 'public', async ({ req, ip }) => {
      const provider = needSso();
      const body = await readJson(req, CliSsoRedeemRequestSchema);
      const session = await provider.redeem(body.code, body.verifier, ip);
      if (!session) throw new HttpError(401, 'bad-grant', 'that sign-in code is unknown, used, expired or not yours; run vigil login --sso again');
      return { status: 200, body: session };
    });
}

/** The page the browser comes back to; it words the refusal itself (no text from the provider is shown). */
function refusedPage(returnTo: string, refusal: SsoRefusal): string {
  return `${returnTo}?sign-in-error=${refusal}`;
}
