import type { SecondFactorStore, TotpRecord } from '../store.js';
import { nullableText, type Db, type Row } from './database.js';

export class SqliteSecondFactors implements SecondFactorStore {
  constructor(private readonly db: Db) {}

  async putTotp(r: TotpRecord): Promise<void> {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM totp_secrets WHERE username = ? AND confirmed_at IS NULL').run(r.username);
      this.db
        .prepare('INSERT INTO totp_secrets (username, secret, created_at, confirmed_at, last_step) VALUES (?, ?, ?, ?, ?)')
        .run(r.username, r.secret, r.createdAt, r.confirmedAt, r.lastStep);
    })();
  }
  async getTotp(username: string): Promise<TotpRecord | null> {
    const row = this.db.prepare('SELECT * FROM totp_secrets WHERE username = ?').get(username) as Row | undefined;
    if (!row) return null;
    return {
      username: String(row.username),
      secret: String(row.secret),
      createdAt: String(row.created_at),
      confirmedAt: nullableText(row.confirmed_at),
      lastStep: Number(row.last_step),
    };
  }
  async confirmTotp(username: string, at: string, step: number): Promise<boolean> {
    return (
      this.db.prepare('UPDATE totp_secrets SET confirmed_at = ?, last_step = ? WHERE username = ? AND confirmed_at IS NULL').run(at, step, username).changes > 0
    );
  }
  async useTotpStep(username: string, step: number): Promise<boolean> {
    return this.db.prepare('UPDATE totp_secrets SET last_step = ? WHERE username = ? AND last_step < ?').run(step, username, step).changes > 0;
  }
  async deleteSecondFactor(username: string): Promise<void> {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM totp_secrets WHERE username = ?').run(username);
      this.db.prepare('DELETE FROM recovery_codes WHERE username = ?').run(username);
    })();
  }
  async replaceRecoveryCodes(username: string, codeHashes: string[]): Promise<void> {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM recovery_codes WHERE username = ?').run(username);
      const insert = this.db.prepare('INSERT INTO recovery_codes (username, code_hash, used_at) VALUES (?, ?, NULL)');
      for (const hash of codeHashes) insert.run(username, hash);
    })();
  }
  async useRecoveryCode(username: string, codeHash: string, at: string): Promise<boolean> {
    return (
      this.db.prepare('UPDATE recovery_codes SET used_at = ? WHERE username = ? AND code_hash = ? AND used_at IS NULL').run(at, username, codeHash).changes > 0
    );
  }
  async countUnusedRecoveryCodes(username: string): Promise<number> {
    return Number((this.db.prepare('SELECT COUNT(*) AS n FROM recovery_codes WHERE username = ? AND used_at IS NULL').get(username) as Row).n);
  }
}
