import { RoleSchema, type Role } from '../../../shared/roles.js';
import type { AccountSource, SessionRecord, SignInMethod, UserRecord, UserStore } from '../store.js';
import { nullableText, type Db, type Row } from './database.js';

export class SqliteUsers implements UserStore {
  constructor(private readonly db: Db) {}

  async createUser(user: UserRecord): Promise<void> {
    this.db
      .prepare('INSERT INTO users (username, role, password_hash, created_at, disabled, source, last_sign_in_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(user.username, user.role, user.passwordHash, user.createdAt, user.disabled ? 1 : 0, user.source ?? 'local', user.lastSignInAt ?? null);
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
  async setUserRole(username: string, role: Role): Promise<boolean> {
    return this.db.prepare('UPDATE users SET role = ? WHERE username = ? AND role <> ?').run(role, username, role).changes > 0;
  }
  async setUserDisabled(username: string, disabled: boolean): Promise<boolean> {
    const flag = disabled ? 1 : 0;
    return this.db.prepare('UPDATE users SET disabled = ? WHERE username = ? AND disabled <> ?').run(flag, username, flag).changes > 0;
  }
  async setPasswordHash(username: string, passwordHash: string): Promise<boolean> {
    return this.db.prepare('UPDATE users SET password_hash = ? WHERE username = ?').run(passwordHash, username).changes > 0;
  }
  async recordSignIn(username: string, at: string): Promise<void> {
    this.db.prepare('UPDATE users SET last_sign_in_at = ? WHERE username = ?').run(at, username);
  }

  async createSession(s: SessionRecord): Promise<void> {
    this.db
      .prepare('INSERT INTO sessions (token_hash, username, role, created_at, expires_at, last_used_at, method, restricted) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(s.tokenHash, s.username, s.role, s.createdAt, s.expiresAt, s.lastUsedAt, s.method ?? 'password', s.restricted ? 1 : 0);
  }
  async getSession(tokenHash: string): Promise<SessionRecord | null> {
    const row = this.db.prepare('SELECT * FROM sessions WHERE token_hash = ?').get(tokenHash) as Row | undefined;
    return row ? toSession(row) : null;
  }
  async listSessionsFor(username: string): Promise<SessionRecord[]> {
    return (this.db.prepare('SELECT * FROM sessions WHERE username = ? ORDER BY created_at DESC, token_hash').all(username) as Row[]).map(toSession);
  }
  async touchSession(tokenHash: string, lastUsedAt: string): Promise<void> {
    this.db.prepare('UPDATE sessions SET last_used_at = ? WHERE token_hash = ?').run(lastUsedAt, tokenHash);
  }
  async deleteSession(tokenHash: string): Promise<void> {
    this.db.prepare('DELETE FROM sessions WHERE token_hash = ?').run(tokenHash);
  }
  async deleteSessionsFor(username: string): Promise<number> {
    return this.db.prepare('DELETE FROM sessions WHERE username = ?').run(username).changes;
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
    source: String(row.source) as AccountSource,
    lastSignInAt: nullableText(row.last_sign_in_at),
  };
}

function toSession(row: Row): SessionRecord {
  return {
    tokenHash: String(row.token_hash),
    username: String(row.username),
    role: RoleSchema.parse(row.role),
    createdAt: String(row.created_at),
    expiresAt: String(row.expires_at),
    lastUsedAt: String(row.last_used_at),
    method: String(row.method) as SignInMethod,
    restricted: row.restricted === 1,
  };
}
