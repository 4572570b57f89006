import type { SessionSummary, UserSummary } from '../shared/accounts.js';
import { sha256Hex } from '../shared/node/crypto.js';
import type { Role } from '../shared/roles.js';
import type { AuthService } from './auth.js';
import { ConflictError, NotFoundError } from './errors.js';
import type { SecondFactorService } from './second-factor.js';
import type { ConsoleStore, SessionRecord, UserRecord } from './store/store.js';

/** The id an admin sees for a session: derived from the stored hash, so it opens nothing. */
export const sessionId = (tokenHash: string) => sha256Hex(`session-id:${tokenHash}`).slice(0, 16);

/**
 * Account management for admins: the list, role changes, disabling, password and second-factor
 * resets, and sessions. Every change ends the person's sessions where it changes what they may
 * do (a disabled account's open dashboard stops at its next request; a new role needs a new
 * sign-in), and every change is audited under the admin's name.
 */
export class AccountService {
  constructor(
    private readonly store: ConsoleStore,
    private readonly auth: AuthService,
    private readonly secondFactor: SecondFactorService,
  ) {}

  async list(): Promise<UserSummary[]> {
    const users = await this.store.listUsers();
    return Promise.all(users.map((u) => this.summary(u)));
  }

  async setRole(actor: string, username: string, role: Role): Promise<boolean> {
    const user = await this.get(username);
    if (user.source === 'sso') {
      throw new ConflictError('role-from-provider', "this account's role comes from the single sign-on mapping (groups or the listed people); change it there");
    }
    if (user.role === 'admin' && role !== 'admin') await this.keepAnAdmin(username);
    const changed = await this.store.setUserRole(username, role);
    if (changed) {
      await this.store.deleteSessionsFor(username);
      await this.audit(actor, 'user.role-changed', username, { from: user.role, to: role });
    }
    return changed;
  }

  async setDisabled(actor: string, username: string, disabled: boolean): Promise<boolean> {
    const user = await this.get(username);
    if (disabled && user.role === 'admin') await this.keepAnAdmin(username);
    const changed = await this.store.setUserDisabled(username, disabled);
    if (disabled) await this.store.deleteSessionsFor(username);
    if (changed) await this.audit(actor, disabled ? 'user.disabled' : 'user.enabled', username);
    return changed;
  }

  async resetPassword(actor: string, username: string, password: string): Promise<void> {
    const user = await this.get(username);
    if (user.source === 'sso') throw new ConflictError('no-password', 'this account signs in through the identity provider and has no password here');
    await this.auth.setPassword(username, password);
    await this.store.deleteSessionsFor(username);
    await this.audit(actor, 'user.password-reset', username);
  }

  async resetSecondFactor(actor: string, username: string): Promise<void> {
    await this.get(username);
    await this.secondFactor.reset(username);
    await this.store.deleteSessionsFor(username);
    await this.audit(actor, 'user.second-factor-reset', username);
  }

  async sessions(username: string): Promise<SessionSummary[]> {
    await this.get(username);
    const now = Date.now();
    return (await this.store.listSessionsFor(username)).filter((s) => Date.parse(s.expiresAt) > now).map(toSummary);
  }

  /** Ends one session (by its id) or, with id null, all of them; returns how many ended. */
  async endSessions(actor: string, username: string, id: string | null): Promise<number> {
    await this.get(username);
    const sessions = await this.store.listSessionsFor(username);
    const ending = id === null ? sessions : sessions.filter((s) => sessionId(s.tokenHash) === id);
    if (id !== null && ending.length === 0) throw new NotFoundError('no such session for this user');
    for (const s of ending) await this.store.deleteSession(s.tokenHash);
    await this.audit(actor, 'user.sessions-ended', username, { count: ending.length, ...(id ? { session: id } : {}) });
    return ending.length;
  }

  private async summary(user: UserRecord): Promise<UserSummary> {
    const [totp, codes, identities, sessions] = await Promise.all([
      this.store.getTotp(user.username),
      this.store.countUnusedRecoveryCodes(user.username),
      this.store.listIdentitiesFor(user.username),
      this.store.listSessionsFor(user.username),
    ]);
    const now = Date.now();
    return {
      username: user.username,
      role: user.role,
      source: user.source ?? 'local',
      disabled: user.disabled,
      createdAt: user.createdAt,
      lastSignInAt: user.lastSignInAt ?? null,
      secondFactor: totp?.confirmedAt ? 'totp' : 'none',
      recoveryCodesLeft: totp?.confirmedAt ? codes : 0,
      email: identities[0]?.email ?? null,
      sessions: sessions.filter((s) => Date.parse(s.expiresAt) > now).length,
    };
  }

  private async get(username: string): Promise<UserRecord> {
    const user = await this.store.getUser(username);
    if (!user) throw new NotFoundError('no such user');
    return user;
  }

  /** The console must keep one enabled admin, or nobody could manage it. */
  private async keepAnAdmin(leaving: string): Promise<void> {
    const others = (await this.store.listUsers()).filter((u) => u.role === 'admin' && !u.disabled && u.username !== leaving);
    if (others.length === 0) throw new ConflictError('last-admin', 'this is the last enabled admin; make someone else an admin first');
  }

  private audit(actor: string, action: string, target: string, detail: Record<string, unknown> = {}): Promise<void> {
    return this.store.appendAudit({ at: new Date().toISOString(), actor, action, target, detail });
  }
}

function toSummary(s: SessionRecord): SessionSummary {
  return {
    id: sessionId(s.tokenHash),
    method: s.method ?? 'password',
    createdAt: s.createdAt,
    lastUsedAt: s.lastUsedAt,
    expiresAt: s.expiresAt,
    restricted: s.restricted ?? false,
  };
}
