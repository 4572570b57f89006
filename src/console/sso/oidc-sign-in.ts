import * as oidc from 'openid-client';
import type { SsoRefusal } from '../../shared/accounts.js';
import { Username } from '../../shared/api.js';
import { pkceS256, randomToken, sha256Hex } from '../../shared/node/crypto.js';
import type { Logger } from '../../shared/node/log.js';
import { isLoopback } from '../../shared/net.js';
import type { SsoConfig } from '../../shared/sso-config.js';
import type { AuthService, IssuedSession } from '../auth.js';
import type { ConsoleStore, UserRecord } from '../store/store.js';
import { admit, verifiedEmail } from './admission.js';

/** A sign-in started here and not finished yet. */
interface PendingFlow {
  state: string;
  nonce: string;
  verifier: string;
  returnTo: string;
  /** The CLI's loopback port and its challenge, for `vigil login --sso`. */
  cli: { port: number; challenge: string } | null;
  createdAt: number;
}

interface CliGrant {
  username: string;
  challenge: string;
  createdAt: number;
}

export type SsoFinish =
  | { ok: true; returnTo: string; session: IssuedSession; cliRedirect: null }
  | { ok: true; returnTo: string; session: null; cliRedirect: string }
  | { ok: false; returnTo: string; refusal: SsoRefusal; cliRedirect: string | null };

const FLOW_TTL_MS = 10 * 60_000;
const GRANT_TTL_MS = 2 * 60_000;
/** Unauthenticated people can start flows: memory for them is bounded (oldest dropped). */
const MAX_PENDING = 1000;

export class SsoRefused extends Error {
  constructor(
    readonly refusal: SsoRefusal,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Staff sign-in through the school's OpenID provider (Entra ID, Google Workspace, any certified
 * provider), with openid-client doing the protocol: authorization code flow with PKCE (S256),
 * state and nonce, and the id_token's signature, issuer, audience and expiry checked against the
 * provider's discovered metadata and keys. This class adds the school's rules (admission.ts),
 * one-use state bound to the browser that started it, and the link from the provider's
 * (issuer, subject) to one console account.
 */
export class OidcSignIn {
  private configuration: oidc.Configuration | null = null;
  private readonly pending = new Map<string, PendingFlow>();
  private readonly grants = new Map<string, CliGrant>();

  constructor(
    private readonly config: SsoConfig,
    private readonly clientSecret: string | undefined,
    private readonly store: ConsoleStore,
    private readonly auth: AuthService,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    const issuer = new URL(config.issuer);
    if (issuer.protocol !== 'https:' && !(config.allowHttpLoopbackIssuer && isLoopback(issuer.hostname.replace(/^\[|\]$/g, '')))) {
      throw new Error('the SSO issuer must be an https:// URL (allowHttpLoopbackIssuer permits http only on this machine, for tests)');
    }
  }

  get label(): string {
    return this.config.label;
  }

  /** The provider's address to send the browser to; the state is also set as a cookie by the caller. */
  async start(returnTo: string, cli: PendingFlow['cli']): Promise<{ url: string; state: string }> {
    const configuration = await this.discover();
    const flow: PendingFlow = {
      state: oidc.randomState(),
      nonce: oidc.randomNonce(),
      verifier: oidc.randomPKCECodeVerifier(),
      returnTo,
      cli,
      createdAt: this.now(),
    };
    this.remember(flow);
    const url = oidc.buildAuthorizationUrl(configuration, {
      redirect_uri: this.config.redirectUri,
      scope: this.config.scopes.join(' '),
      response_type: 'code',
      code_challenge: await oidc.calculatePKCECodeChallenge(flow.verifier),
      code_challenge_method: 'S256',
      state: flow.state,
      nonce: flow.nonce,
    });
    return { url: url.href, state: flow.state };
  }

  /**
   * The provider sent the browser back. `query` is the callback's query string; `browserState`
   * the state cookie the browser carries. Each state is good once, and only in the browser that
   * started it.
   */
  async finish(query: URLSearchParams, browserState: string | null, ip: string): Promise<SsoFinish> {
    const state = query.get('state') ?? '';
    const flow = this.take(state);
    if (!flow || browserState !== state) {
      await this.audit('user.sso-refused', null, { refusal: 'state', ip, reason: flow ? 'state cookie does not match' : 'unknown, used or expired state' });
      return { ok: false, returnTo: flow?.returnTo ?? '/', refusal: 'state', cliRedirect: null };
    }
    const refuse = async (refusal: SsoRefusal, detail: Record<string, unknown>): Promise<SsoFinish> => {
      await this.audit('user.sso-refused', typeof detail.subject === 'string' ? detail.subject.slice(0, 200) : null, { refusal, ip, ...detail });
      return { ok: false, returnTo: flow.returnTo, refusal, cliRedirect: flow.cli ? loopback(flow.cli.port, { error: refusal }) : null };
    };
    let claims: Record<string, unknown>;
    try {
      const configuration = await this.discover();
      const callback = new URL(this.config.redirectUri);
      callback.search = query.toString();
      const tokens = await oidc.authorizationCodeGrant(configuration, callback, {
        pkceCodeVerifier: flow.verifier,
        expectedState: flow.state,
        expectedNonce: flow.nonce,
        idTokenExpected: true,
      });
      claims = { ...tokens.claims()! };
    } catch (error) {
      if (error instanceof SsoRefused) return refuse(error.refusal, { reason: error.message });
      const refusal: SsoRefusal = error instanceof oidc.AuthorizationResponseError ? 'provider' : 'token';
      const reason = describeOidcError(error);
      this.log.warn('single sign-on refused', { refusal, reason });
      return refuse(refusal, { reason });
    }
    const issuer = String(claims.iss);
    const subject = String(claims.sub);
    const admission = admit(claims, this.config);
    if (!admission.ok) return refuse(admission.refusal, { subject, email: verifiedEmail(claims) });
    const user = await this.accountFor(issuer, subject, claims, admission.role);
    if (user.disabled) return refuse('disabled', { subject, username: user.username });
    if (flow.cli) {
      const code = randomToken(32);
      this.grants.set(code, { username: user.username, challenge: flow.cli.challenge, createdAt: this.now() });
      await this.audit('user.sso-cli-approved', user.username, { ip });
      return { ok: true, returnTo: flow.returnTo, session: null, cliRedirect: loopback(flow.cli.port, { code }) };
    }
    const session = await this.auth.issueSession(user, 'sso');
    await this.audit('user.signed-in', user.username, { ip, method: 'sso', issuer });
    return { ok: true, returnTo: flow.returnTo, session, cliRedirect: null };
  }

  /** The CLI trades the one-use code from its loopback redirect, with the verifier only it knows, for a session. */
  async redeem(code: string, verifier: string, ip: string): Promise<IssuedSession | null> {
    const grant = this.grants.get(code);
    this.grants.delete(code);
    if (!grant || this.now() - grant.createdAt > GRANT_TTL_MS || pkceS256(verifier) !== grant.challenge) return null;
    const user = await this.store.getUser(grant.username);
    if (!user || user.disabled) return null;
    const session = await this.auth.issueSession(user, 'sso');
    await this.audit('user.signed-in', user.username, { ip, method: 'sso', via: 'cli' });
    return session;
  }

  /** The linked account, created on first sign-in; its role follows the school's mapping at every sign-in. */
  private async accountFor(issuer: string, subject: string, claims: Record<string, unknown>, role: UserRecord['role']): Promise<UserRecord> {
    const linked = await this.store.getIdentity(issuer, subject);
    const existing = linked ? await this.store.getUser(linked.username) : null;
    if (existing) {
      if (existing.role !== role && !existing.disabled) {
        await this.store.setUserRole(existing.username, role);
        // A privilege change ends the sessions that were granted under the old role.
        await this.store.deleteSessionsFor(existing.username);
        await this.audit('user.role-changed', existing.username, { from: existing.role, to: role, by: 'identity provider mapping' });
        return { ...existing, role };
      }
      return existing;
    }
    const email = verifiedEmail(claims);
    const username = await this.freeUsername(
      email ?? (typeof claims.preferred_username === 'string' ? claims.preferred_username : `sso-${sha256Hex(subject).slice(0, 10)}`),
    );
    await this.auth.createUser(username, null, role);
    await this.store.linkIdentity({ issuer, subject, username, email, linkedAt: new Date(this.now()).toISOString() });
    await this.audit('user.created', username, { role, source: 'sso', issuer, email });
    return (await this.store.getUser(username))!;
  }

  private async freeUsername(from: string): Promise<string> {
    let base = from
      .toLowerCase()
      .replace('@', '.')
      .replace(/[^a-z0-9._-]/g, '-')
      .replace(/^[^a-z0-9]+/, '')
      .slice(0, 56);
    if (!Username.safeParse(base).success) base = `sso-${sha256Hex(from).slice(0, 10)}`;
    for (let n = 1; ; n++) {
      const candidate = n === 1 ? base : `${base}-${n}`;
      if (!(await this.store.getUser(candidate))) return candidate;
    }
  }

  private async discover(): Promise<oidc.Configuration> {
    if (this.configuration) return this.configuration;
    try {
      // Signatures are checked even though the id_token comes straight from the token endpoint:
      // many schools' networks inspect TLS, so the channel alone does not prove who signed it.
      const execute = [oidc.enableNonRepudiationChecks, ...(this.config.allowHttpLoopbackIssuer ? [oidc.allowInsecureRequests] : [])];
      this.configuration = await oidc.discovery(new URL(this.config.issuer), this.config.clientId, this.clientSecret, undefined, { execute, timeout: 10 });
      return this.configuration;
    } catch (error) {
      this.log.warn('cannot read the SSO provider configuration', { issuer: this.config.issuer, error: (error as Error).message });
      throw new SsoRefused('unavailable', `cannot reach the sign-in provider: ${(error as Error).message}`);
    }
  }

  private remember(flow: PendingFlow): void {
    for (const [state, f] of this.pending) {
      if (this.pending.size < MAX_PENDING && this.now() - f.createdAt <= FLOW_TTL_MS) break;
      this.pending.delete(state);
    }
    this.pending.set(flow.state, flow);
  }

  private take(state: string): PendingFlow | null {
    const flow = this.pending.get(state);
    this.pending.delete(state);
    return flow && this.now() - flow.createdAt <= FLOW_TTL_MS ? flow : null;
  }

  private audit(action: string, target: string | null, detail: Record<string, unknown>): Promise<void> {
    return this.store.appendAudit({ at: new Date(this.now()).toISOString(), actor: 'sso', action, target, detail });
  }
}

/** openid-client's message, its code and the claim that failed (e.g. `"iss"`), for the audit log. */
function describeOidcError(error: unknown): string {
  const e = error as { message?: string; code?: string; error?: string; cause?: unknown };
  const cause = e.cause instanceof Error ? `: ${e.cause.message}` : '';
  return `${e.message ?? String(error)}${cause} (${e.code ?? e.error ?? 'error'})`.slice(0, 300);
}

function loopback(port: number, params: Record<string, string>): string {
  return `http://127.0.0.1:${port}/callback?${new URLSearchParams(params).toString()}`;
}
