import type { SecondFactorStore, TotpRecord } from '../store.js';
import { changed, type Engine, type StoreDb } from './engine.js';

export class SqlSecondFactors implements SecondFactorStore {
  constructor(
    private readonly db: StoreDb,
    _engine: Engine,
  ) {}

  async putTotp(r: TotpRecord): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('totp_secrets').where('username', '=', r.username).where('confirmed_at', 'is', null).execute();
      await trx
        .insertInto('totp_secrets')
        .values({ username: r.username, secret: r.secret, created_at: r.createdAt, confirmed_at: r.confirmedAt, last_step: r.lastStep })
        .execute();
    });
  }
  async getTotp(username: string): Promise<TotpRecord | null> {
    const row = await this.db.selectFrom('totp_secrets').selectAll().where('username', '=', username).executeTakeFirst();
    if (!row) return null;
    return { username: row.username, secret: row.secret, createdAt: row.created_at, confirmedAt: row.confirmed_at ?? null, lastStep: Number(row.last_step) };
  }
  async confirmTotp(username: string, at: string, step: number): Promise<boolean> {
    const result = await this.db
      .updateTable('totp_secrets')
      .set({ confirmed_at: at, last_step: step })
      .where('username', '=', username)
      .where('confirmed_at', 'is', null)
      .executeTakeFirst();
    return changed(result) > 0;
  }
  async useTotpStep(username: string, step: number): Promise<boolean> {
    const result = await this.db
      .updateTable('totp_secrets')
      .set({ last_step: step })
      .where('username', '=', username)
      .where('last_step', '<', step)
      .executeTakeFirst();
    return changed(result) > 0;
  }
  async deleteSecondFactor(username: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('totp_secrets').where('username', '=', username).execute();
      await trx.deleteFrom('recovery_codes').where('username', '=', username).execute();
    });
  }
  async replaceRecoveryCodes(username: string, codeHashes: string[]): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('recovery_codes').where('username', '=', username).execute();
      if (codeHashes.length > 0)
        await trx
          .insertInto('recovery_codes')
          .values(codeHashes.map((code_hash) => ({ username, code_hash, used_at: null })))
          .execute();
    });
  }
  async useRecoveryCode(username: string, codeHash: string, at: string): Promise<boolean> {
    const result = await this.db
      .updateTable('recovery_codes')
      .set({ used_at: at })
      .where('username', '=', username)
      .where('code_hash', '=', codeHash)
      .where('used_at', 'is', null)
      .executeTakeFirst();
    return changed(result) > 0;
  }
  async countUnusedRecoveryCodes(username: string): Promise<number> {
    const row = await this.db
      .selectFrom('recovery_codes')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('username', '=', username)
      .where('used_at', 'is', null)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }
}
