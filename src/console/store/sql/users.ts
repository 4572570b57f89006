import { RoleSchema } from '../../../shared/roles.js';
import type { SessionRecord, UserRecord, UserStore } from '../store.js';
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
      .values({ username: user.username, role: user.role, password_hash: user.passwordHash, created_at: user.createdAt, disabled: user.disabled ? 1 : 0 })
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

  async createSession(s: SessionRecord): Promise<void> {
    await this.db
      .insertInto('sessions')
      .values({ token_hash: s.tokenHash, username: s.username, role: s.role, created_at: s.createdAt, expires_at: s.expiresAt, last_used_at: s.lastUsedAt })
      .execute();
  }
  async getSession(tokenHash: string): Promise<SessionRecord | null> {
    const row = await this.db.selectFrom('sessions').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
    if (!row) return null;
    return {
      tokenHash: row.token_hash,
      username: row.username,
      role: RoleSchema.parse(row.role),
      createdAt: row.created_at,
      expiresAt: row.expires_at,
      lastUsedAt: row.last_used_at,
    };
  }
  async touchSession(tokenHash: string, lastUsedAt: string): Promise<void> {
    await this.db.updateTable('sessions').set({ last_used_at: lastUsedAt }).where('token_hash', '=', tokenHash).execute();
  }
  async deleteSession(tokenHash: string): Promise<void> {
    await this.db.deleteFrom('sessions').where('token_hash', '=', tokenHash).execute();
  }
  async deleteExpiredSessions(now: string): Promise<number> {
    return changed(await this.db.deleteFrom('sessions').where('expires_at', '<=', now).executeTakeFirst());
  }
}

function toUser(row: ConsoleTables['users']): UserRecord {
  return {
    username: row.username,
    role: RoleSchema.parse(row.role),
    passwordHash: row.password_hash,
    createdAt: row.created_at,
    disabled: Number(row.disabled) === 1,
  };
}
