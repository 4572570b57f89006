import { RoleSchema, type Role } from '../../../shared/roles.js';
import type { Selectable } from 'kysely';
import type { AccountSource, SessionRecord, SignInMethod, UserRecord, UserStore } from '../store.js';
import { changed, type Engine, type StoreDb } from './engine.js';
import type { ConsoleTables } from './schema.js';

export class SqlUsers implements UserStore {
  constructor(
    private readonly db: StoreDb,
    _engine: Engine,
  ) {}

  async createUser(user: UserRecord): Promise<void> {
    await this.db
      .insertInto('users')
      .values({
        username: user.username,
        role: user.role,
        password_hash: user.passwordHash,
        created_at: user.createdAt,
        disabled: user.disabled ? 1 : 0,
        source: user.source ?? 'local',
        last_sign_in_at: user.lastSignInAt ?? null,
      })
      .execute();
  }
  async getUser(username: string): Promise<UserRecord | null> {
    const row = await this.db.selectFrom('users').selectAll().where('username', '=', username).executeTakeFirst();
    return row ? toUser(row) : null;
  }
  async listUsers(): Promise<UserRecord[]> {
    return (await this.db.selectFrom('users').selectAll().orderBy('username').execute()).map(toUser);
  }
  async countUsers(): Promise<number> {
    const row = await this.db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }
  async setUserRole(username: string, role: Role): Promise<boolean> {
    return changed(await this.db.updateTable('users').set({ role }).where('username', '=', username).where('role', '<>', role).executeTakeFirst()) > 0;
  }
  async setUserDisabled(username: string, disabled: boolean): Promise<boolean> {
    const flag = disabled ? 1 : 0;
    return (
      changed(await this.db.updateTable('users').set({ disabled: flag }).where('username', '=', username).where('disabled', '<>', flag).executeTakeFirst()) > 0
    );
  }
  async setPasswordHash(username: string, passwordHash: string): Promise<boolean> {
    return changed(await this.db.updateTable('users').set({ password_hash: passwordHash }).where('username', '=', username).executeTakeFirst()) > 0;
  }
  async recordSignIn(username: string, at: string): Promise<void> {
    await this.db.updateTable('users').set({ last_sign_in_at: at }).where('username', '=', username).execute();
  }

  async createSession(s: SessionRecord): Promise<void> {
    await this.db
      .insertInto('sessions')
      .values({
        token_hash: s.tokenHash,
        username: s.username,
        role: s.role,
        created_at: s.createdAt,
        expires_at: s.expiresAt,
        last_used_at: s.lastUsedAt,
        method: s.method ?? 'password',
        restricted: s.restricted ? 1 : 0,
      })
      .execute();
  }
  async getSession(tokenHash: string): Promise<SessionRecord | null> {
    const row = await this.db.selectFrom('sessions').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
    return row ? toSession(row) : null;
  }
  async listSessionsFor(username: string): Promise<SessionRecord[]> {
    const rows = await this.db
      .selectFrom('sessions')
      .selectAll()
      .where('username', '=', username)
      .orderBy('created_at', 'desc')
      .orderBy('token_hash')
      .execute();
    return rows.map(toSession);
  }
  async touchSession(tokenHash: string, lastUsedAt: string): Promise<void> {
    await this.db.updateTable('sessions').set({ last_used_at: lastUsedAt }).where('token_hash', '=', tokenHash).execute();
  }
  async deleteSession(tokenHash: string): Promise<void> {
    await this.db.deleteFrom('sessions').where('token_hash', '=', tokenHash).execute();
  }
  async deleteSessionsFor(username: string): Promise<number> {
    return changed(await this.db.deleteFrom('sessions').where('username', '=', username).executeTakeFirst());
  }
  async deleteExpiredSessions(now: string): Promise<number> {
    return changed(await this.db.deleteFrom('sessions').where('expires_at', '<=', now).executeTakeFirst());
  }
}

function toUser(row: Selectable<ConsoleTables['users']>): UserRecord {
  return {
    username: row.username,
    role: RoleSchema.parse(row.role),
    passwordHash: row.password_hash,
    createdAt: row.created_at,
    disabled: Number(row.disabled) === 1,
    source: row.source as AccountSource,
    lastSignInAt: row.last_sign_in_at ?? null,
  };
}

function toSession(row: Selectable<ConsoleTables['sessions']>): SessionRecord {
  return {
    tokenHash: row.token_hash,
    username: row.username,
    role: RoleSchema.parse(row.role),
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    lastUsedAt: row.last_used_at,
    method: row.method as SignInMethod,
    restricted: Number(row.restricted) === 1,
  };
}
