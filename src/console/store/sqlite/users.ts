import { RoleSchema } from '../../../shared/roles.js';
import type { SessionRecord, UserRecord, UserStore } from '../store.js';
import type { Db, Row } from './database.js';

export class SqliteUsers implements UserStore {
  constructor(private readonly db: Db) {}

  async createUser(user: UserRecord): Promise<void> {
    this.db
      .prepare('INSERT INTO users (username, role, password_hash, created_at, disabled) VALUES (?, ?, ?, ?, ?)')
      .run(user.username, user.role, user.passwordHash, user.createdAt, user.disabled ? 1 : 0);
  }
  async getUser(username: string): Promise<UserRecord | null> {
    const row = this.db.prepare('SELECT * FROM users WHERE username = ?').get(username) as Row | undefined;
    return row ? toUser(row) : null;
  }
  async listUsers(): Promise<UserRecord[]> {
    return (this.db.prepare('SELECT * FROM users ORDER BY username').all() as Row[]).map(toUser);
  }
  async countUsers(): Promise<number> {
    return Number((this.db.prepare('SELECT COUNT(*) AS n FROM users').get() as Row).n);
  }

  async createSession(s: SessionRecord): Promise<void> {
    this.db
      .prepare('INSERT INTO sessions (token_hash, username, role, created_at, expires_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(s.tokenHash, s.username, s.role, s.createdAt, s.expiresAt, s.lastUsedAt);
  }
  async getSession(tokenHash: string): Promise<SessionRecord | null> {
    const row = this.db.prepare('SELECT * FROM sessions WHERE token_hash = ?').get(tokenHash) as Row | undefined;
    if (!row) return null;
    return {
      tokenHash: String(row.token_hash),
      username: String(row.username),
      role: RoleSchema.parse(row.role),
      createdAt: String(row.created_at),
      expiresAt: String(row.expires_at),
      lastUsedAt: String(row.last_used_at),
    };
  }
  async touchSession(tokenHash: string, lastUsedAt: string): Promise<void> {
    this.db.prepare('UPDATE sessions SET last_used_at = ? WHERE token_hash = ?').run(lastUsedAt, tokenHash);
  }
  async deleteSession(tokenHash: string): Promise<void> {
    this.db.prepare('DELETE FROM sessions WHERE token_hash = ?').run(tokenHash);
  }
  async deleteExpiredSessions(now: string): Promise<number> {
    return this.db.prepare('DELETE FROM sessions WHERE expires_at <= ?').run(now).changes;
  }
}

function toUser(row: Row): UserRecord {
  return {
    username: String(row.username),
    role: RoleSchema.parse(row.role),
    passwordHash: String(row.password_hash),
    createdAt: String(row.created_at),
    disabled: row.disabled === 1,
  };
}
