import type { EnrollTokenRecord, EnrollTokenStore } from '../store.js';
import { nullableNumber, type Db, type Row } from './database.js';

export class SqliteEnrollTokens implements EnrollTokenStore {
  constructor(private readonly db: Db) {}

  async createEnrollToken(t: EnrollTokenRecord): Promise<void> {
    this.db
      .prepare(
        'INSERT INTO enroll_tokens (id, token_hash, label, created_by, created_at, expires_at, max_uses, uses, revoked) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(t.id, t.tokenHash, t.label, t.createdBy, t.createdAt, t.expiresAt, t.maxUses, t.uses, t.revoked ? 1 : 0);
  }
  async getEnrollTokenByHash(tokenHash: string): Promise<EnrollTokenRecord | null> {
    const row = this.db.prepare('SELECT * FROM enroll_tokens WHERE token_hash = ?').get(tokenHash) as Row | undefined;
    return row ? toEnrollToken(row) : null;
  }
  async listEnrollTokens(): Promise<EnrollTokenRecord[]> {
    return (this.db.prepare('SELECT * FROM enroll_tokens ORDER BY created_at').all() as Row[]).map(toEnrollToken);
  }
  async revokeEnrollToken(id: string): Promise<boolean> {
    return this.db.prepare('UPDATE enroll_tokens SET revoked = 1 WHERE id = ? AND revoked = 0').run(id).changes === 1;
  }
}

function toEnrollToken(row: Row): EnrollTokenRecord {
  return {
    id: String(row.id),
    tokenHash: String(row.token_hash),
    label: String(row.label),
    createdBy: String(row.created_by),
    createdAt: String(row.created_at),
    expiresAt: String(row.expires_at),
    maxUses: nullableNumber(row.max_uses),
    uses: Number(row.uses),
    revoked: row.revoked === 1,
  };
}
