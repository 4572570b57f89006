import type { EnrollTokenRecord, EnrollTokenStore } from '../store.js';
import { changed, nullableNumber, type Engine, type StoreDb } from './engine.js';
import type { ConsoleTables } from './schema.js';

export class SqlEnrollTokens implements EnrollTokenStore {
  constructor(
    private readonly db: StoreDb,
    _engine: Engine,
  ) {}

  async createEnrollToken(t: EnrollTokenRecord): Promise<void> {
    await this.db
      .insertInto('enroll_tokens')
      .values({
        id: t.id,
        token_hash: t.tokenHash,
        label: t.label,
        created_by: t.createdBy,
        created_at: t.createdAt,
        expires_at: t.expiresAt,
        max_uses: t.maxUses,
        uses: t.uses,
        revoked: t.revoked ? 1 : 0,
      })
      .execute();
  }
  async getEnrollTokenByHash(tokenHash: string): Promise<EnrollTokenRecord | null> {
    const row = await this.db.selectFrom('enroll_tokens').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
    return row ? toEnrollToken(row) : null;
  }
  async listEnrollTokens(): Promise<EnrollTokenRecord[]> {
    return (await this.db.selectFrom('enroll_tokens').selectAll().orderBy('created_at').execute()).map(toEnrollToken);
  }
  async revokeEnrollToken(id: string): Promise<boolean> {
    return changed(await this.db.updateTable('enroll_tokens').set({ revoked: 1 }).where('id', '=', id).where('revoked', '=', 0).executeTakeFirst()) === 1;
  }
}

function toEnrollToken(row: ConsoleTables['enroll_tokens']): EnrollTokenRecord {
  return {
    id: row.id,
    tokenHash: row.token_hash,
    label: row.label,
    createdBy: row.created_by,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    maxUses: nullableNumber(row.max_uses),
    uses: Number(row.uses),
    revoked: Number(row.revoked) === 1,
  };
}
