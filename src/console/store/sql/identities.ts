import type { Selectable } from 'kysely';
import { ConflictError } from '../../errors.js';
import type { IdentityRecord, IdentityStore } from '../store.js';
import type { Engine, StoreDb } from './engine.js';
import type { ConsoleTables } from './schema.js';

export class SqlIdentities implements IdentityStore {
  constructor(
    private readonly db: StoreDb,
    private readonly engine: Engine,
  ) {}

  async getIdentity(issuer: string, subject: string): Promise<IdentityRecord | null> {
    const row = await this.db.selectFrom('identities').selectAll().where('issuer', '=', issuer).where('subject', '=', subject).executeTakeFirst();
    return row ? toIdentity(row) : null;
  }
  async linkIdentity(identity: IdentityRecord): Promise<void> {
    try {
      await this.db
        .insertInto('identities')
        .values({ issuer: identity.issuer, subject: identity.subject, username: identity.username, email: identity.email, linked_at: identity.linkedAt })
        .execute();
    } catch (error) {
      if (this.engine.isUniqueViolation(error)) throw new ConflictError('identity-linked', 'this identity is linked to an account already');
      throw error;
    }
  }
  async listIdentitiesFor(username: string): Promise<IdentityRecord[]> {
    return (await this.db.selectFrom('identities').selectAll().where('username', '=', username).orderBy('linked_at').execute()).map(toIdentity);
  }
}

function toIdentity(row: Selectable<ConsoleTables['identities']>): IdentityRecord {
  return { issuer: row.issuer, subject: row.subject, username: row.username, email: row.email ?? null, linkedAt: row.linked_at };
}
