import type { IncomingMessage } from 'node:http';
import { z } from 'zod';
import { randomToken, sha256Hex } from '../shared/node/crypto.js';
import type { Role } from '../shared/roles.js';
import { InProcessBroker, type ConsoleBus } from './bus/bus.js';
import { HttpError } from './http/http-error.js';
import { ConflictError } from './errors.js';
import type { Principal } from './http/router.js';
import { DUMMY_PASSWORD_HASH, hashPassword, PasswordHashingBusy, verifyPassword } from './passwords.js';
import { PenaltyBox } from './rate-limit.js';
import { SecondFactorService } from './second-factor.js';
import type { ConsoleStore, SignInMethod, UserRecord } from './store/store.js';

export const SESSION_COOKIE = 'vigil_session';

/** Sign-in outcomes every console process counts, so the limit holds whichever one a guesser lands on. */
const SIGN_IN_SUBJECT = 'vigil.sign-in';
const SignInOutcome = z.strictObject({ username: z.string().max(256), ip: z.string().max(64), ok: z.boolean() });

export interface AuthOptions {
  /** Sessions end this long after sign-in, whatever the activity. */
  sessionMaxAgeMs: number;
  /** Sessions end after this long without a request. */
  sessionIdleMs: number;
}

export const DEFAULT_AUTH_OPTIONS: AuthOptions = { sessionMaxAgeMs: 12 * 3600_000, sessionIdleMs: 2 * 3600_000 };

export interface IssuedSession {
  token: string;
  username: string;
  role: Role;
  expiresAt: string;
  /** The session may only set up a second factor (the role requires one and the account has none). */
  restricted: boolean;
}

/** Sign-in, sessions and the login rate limit for console users (people, not devices). */
export class AuthService {
  /** Five failures in 15 minutes lock the username (and, separately, the address) for a minute, doubling. */
  private readonly byUser = new PenaltyBox({ maxFailures: 5, windowMs: 15 * 60_000, basePenaltyMs: 60_000, maxPenaltyMs: 3600_000 });
  private readonly byAddress = new PenaltyBox({ maxFailures: 20, windowMs: 15 * 60_000, basePenaltyMs: 60_000, maxPenaltyMs: 3600_000 });
  /**
   * Sign-ins being checked right now. Failures are only known once scrypt finishes, so without
   * this a burst of parallel guesses would all pass the rate-limit check before any counted.
   */
  private readonly inFlight = new Map<string, number>();

  constructor(
    private readonly store: ConsoleStore,
    private readonly options: AuthOptions = DEFAULT_AUTH_OPTIONS,
    private readonly secondFactor: SecondFactorService = new SecondFactorService(store),
    /** Shares failed and successful sign-ins with the other console processes (sessions are in the store). */
    private readonly bus: ConsoleBus = new InProcessBroker().connect(),
  ) {
    bus.subscribe(SIGN_IN_SUBJECT, SignInOutcome, ({ username, ip, ok }) => (ok ? this.byUser.succeed(username) : this.countFailure(username, ip)));
  }

  /** A local account (password) or, with a null password, one that signs in only through the school's provider. */
  async createUser(username: string, password: string | null, role: Role): Promise<void> {
    if (await this.store.getUser(username)) throw new ConflictError('exists', `user ${username} already exists`);
    await this.store.createUser({
      username,
      role,
      passwordHash: password === null ? '' : await hashPassword(password),
      createdAt: new Date().toISOString(),
      disabled: false,
      source: password === null ? 'sso' : 'local',
    });
  }

  async setPassword(username: string, password: string): Promise<boolean> {
    return this.store.setPasswordHash(username, await hashPassword(password));
  }

  /**
   * Password, then (if the account has one) the second factor, under one rate limit: a wrong
   * code counts as a failed sign-in just as a wrong password does. An account with a second
   * factor and no `code` is answered 401 second-factor-required (the form then asks for it).
   */
  async login(username: string, password: string, ip: string, code?: string): Promise<IssuedSession> {
    const wait = Math.max(this.byUser.retryAfterMs(username), this.byAddress.retryAfterMs(ip));
    if (wait > 0) {
      throw new HttpError(429, 'rate-limited', `too many failed sign-ins; try again in ${Math.ceil(wait / 1000)} s`, {
        'Retry-After': String(Math.ceil(wait / 1000)),
      });
    }
    const userKey = `user:${username}`;
    const addressKey = `ip:${ip}`;
    if ((this.inFlight.get(userKey) ?? 0) >= 1 || (this.inFlight.get(addressKey) ?? 0) >= 4) {
      throw new HttpError(429, 'rate-limited', 'a sign-in for this account or address is already being checked; try again in a moment', { 'Retry-After': '1' });
    }
    const enter = (key: string, delta: number) => {
      const n = (this.inFlight.get(key) ?? 0) + delta;
      if (n > 0) this.inFlight.set(key, n);
      else this.inFlight.delete(key);
    };
    enter(userKey, 1);
    enter(addressKey, 1);
    let user: Awaited<ReturnType<ConsoleStore['getUser']>>;
    let ok: boolean;
    try {
      user = await this.store.getUser(username);
      ok = await verifyPassword(password, user?.passwordHash ?? DUMMY_PASSWORD_HASH);
    } catch (error) {
      if (error instanceof PasswordHashingBusy) throw new HttpError(503, 'busy', error.message, { 'Retry-After': '2' });
      throw error;
    } finally {
      enter(userKey, -1);
      enter(addressKey, -1);
    }
    // SSO-only accounts have no password hash: verifyPassword refuses the empty one.
    if (!user || !ok || user.disabled) {
      this.fail(username, ip);
      throw new HttpError(401, 'bad-credentials', 'wrong username or password');
    }
    let method: SignInMethod = 'password';
    let restricted = false;
    if (await this.secondFactor.isEnrolled(user.username)) {
      if (code === undefined || code === '') throw new HttpError(401, 'second-factor-required', 'enter the code from your authenticator app');
      const proved = await this.secondFactor.verify(user.username, code);
      if (!proved) {
        this.fail(username, ip);
        throw new HttpError(401, 'bad-second-factor', 'that code is wrong or was used already');
      }
      method = proved;
    } else {
      restricted = await this.secondFactor.requiredFor(user.role);
    }
    this.byUser.succeed(username);
    this.bus.publish(SIGN_IN_SUBJECT, { username: username.slice(0, 256), ip: ip.slice(0, 64), ok: true });
    return this.issueSession(user, method, restricted);
  }

  private fail(username: string, ip: string): void {
    this.countFailure(username, ip);
    this.bus.publish(SIGN_IN_SUBJECT, { username: username.slice(0, 256), ip: ip.slice(0, 64), ok: false });
  }

  private countFailure(username: string, ip: string): void {
    this.byUser.fail(username);
    this.byAddress.fail(ip);
  }

  /** A new session (always a new token: sign-in rotates it) and the account's last sign-in. */
  async issueSession(user: UserRecord, method: SignInMethod, restricted = false): Promise<IssuedSession> {
    const token = randomToken(32);
    const now = new Date();
    const expiresAt = new Date(now.getTime() + this.options.sessionMaxAgeMs).toISOString();
    await this.store.createSession({
      tokenHash: sha256Hex(token),
      username: user.username,
      role: user.role,
      createdAt: now.toISOString(),
      expiresAt,
      lastUsedAt: now.toISOString(),
      method,
      restricted,
    });
    await this.store.recordSignIn(user.username, now.toISOString());
    return { token, username: user.username, role: user.role, expiresAt, restricted };
  }

  /** Replaces the caller's session with a new unrestricted one (after they set up a second factor). */
  async rotate(principal: Principal, method: SignInMethod): Promise<IssuedSession> {
    const user = await this.store.getUser(principal.username);
    if (!user || user.disabled) throw new HttpError(401, 'unauthenticated', 'sign in first');
    await this.store.deleteSession(principal.tokenHash);
    return this.issueSession(user, method, false);
  }

  async logout(principal: Principal): Promise<void> {
    await this.store.deleteSession(principal.tokenHash);
  }

  /** Bearer token (CLI, API) or the session cookie (dashboard). */
  authenticate = async (req: IncomingMessage): Promise<Principal | null> => {
    const token = bearer(req) ?? cookie(req, SESSION_COOKIE);
    if (!token || token.length > 128) return null;
    return this.principalForToken(token);
  };

  async principalForToken(token: string): Promise<Principal | null> {
    const tokenHash = sha256Hex(token);
    const session = await this.store.getSession(tokenHash);
    if (!session) return null;
    const now = Date.now();
    if (Date.parse(session.expiresAt) <= now || Date.parse(session.lastUsedAt) + this.options.sessionIdleMs <= now) {
      await this.store.deleteSession(tokenHash);
      return null;
    }
    const user = await this.store.getUser(session.username);
    if (!user || user.disabled) return null;
    // Writing on every request would be wasteful; a minute's precision is enough for idle expiry.
    if (now - Date.parse(session.lastUsedAt) > 60_000) await this.store.touchSession(tokenHash, new Date(now).toISOString());
    return { username: user.username, role: user.role, tokenHash, restricted: session.restricted ?? false };
  }

  /** Same rules as for a request: absolute and idle expiry, user still enabled. */
  async isSessionValid(principal: Principal): Promise<boolean> {
    const session = await this.store.getSession(principal.tokenHash);
    if (!session) return false;
    const now = Date.now();
    if (Date.parse(session.expiresAt) <= now || Date.parse(session.lastUsedAt) + this.options.sessionIdleMs <= now) return false;
    const user = await this.store.getUser(session.username);
    return !!user && !user.disabled;
  }
}

function bearer(req: IncomingMessage): string | null {
  const header = req.headers.authorization;
  const m = header ? /^Bearer ([A-Za-z0-9_-]+)$/.exec(header) : null;
  return m ? m[1]! : null;
}

export function cookie(req: IncomingMessage, name: string): string | null {
  const header = req.headers.cookie;
  if (!header) return null;
  for (const part of header.split(';')) {
    const [k, ...rest] = part.trim().split('=');
    if (k === name) return rest.join('=');
  }
  return null;
}
