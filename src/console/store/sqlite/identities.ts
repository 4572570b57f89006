import { ConflictError } from '../../errors.js';
import type { IdentityRecord, IdentityStore } from '../store.js';
import { isUniqueViolation, nullableText, type Db, type Row } from './database.js';

export class SqliteIdentities implements IdentityStore {
  constructor(private readonly db: Db) {}

  async getIdentity(issuer: string, subject: string): Promise<IdentityRecord | null> {
    const row = this.db.prepare('SELECT * FROM identities WHERE issuer = ? AND subject = ?').get(issuer, subject) as Row | undefined;
    return row ? toIdentity(row) : null;
  }
  async linkIdentity(identity: IdentityRecord): Promise<void> {
    try {
      this.db
        .prepare('INSERT INTO identities (issuer, subject, username, email, linked_at) VALUES (?, ?, ?, ?, ?)')
        .run(identity.issuer, identity.subject, identity.username, identity.email, identity.linkedAt);
    } catch (error) {
      if (isUniqueViolation(error)) throw new ConflictError('identity-linked', 'this identity is linked to an account already');
      throw error;
    }
  }
  async listIdentitiesFor(username: string): Promise<IdentityRecord[]> {
    return (this.db.prepare('SELECT * FROM identities WHERE username = ? ORDER BY linked_at').all(username) as Row[]).map(toIdentity);
  }
}

function toIdentity(row: Row): IdentityRecord {
  return {
    issuer: String(row.issuer),
    subject: String(row.subject),
    username: String(row.username),
    email: nullableText(row.email),
    linkedAt: String(row.linked_at),
  };
}
