import type { Selectable } from 'kysely';
import { RevisionChangeSchema, type NamedPolicy, type PolicyContent, type PolicyRevision } from '../../../shared/policies/model.js';
import { ConflictError } from '../../errors.js';
import type { NamedPolicyStore, PolicyChange } from '../store.js';
import type { Engine, StoreDb, StoreTrx } from './engine.js';
import { contentsOf, type RevisionContents } from './revision-contents.js';
import { contentOf, readStoredForm, storedForm, storedFormOf, type StoredContent } from './revision-storage.js';
import type { ConsoleTables } from './schema.js';

type RevisionRow = Omit<Selectable<ConsoleTables['policy_revisions']>, 'content' | 'base_revision' | 'content_encoded' | 'encoding'>;

export class SqlNamedPolicies implements NamedPolicyStore {
  private readonly contents: RevisionContents;

  constructor(
    private readonly db: StoreDb,
    _engine: Engine,
  ) {
    this.contents = contentsOf(db);
  }

  async listNamedPolicies(): Promise<NamedPolicy[]> {
    return this.withContents(await this.current().orderBy('p.name').execute());
  }

  async getNamedPolicy(name: string): Promise<NamedPolicy | null> {
    const row = await this.current().where('p.name', '=', name).executeTakeFirst();
    return row ? (await this.withContents([row]))[0]! : null;
  }

  async listPolicyRevisions(policy: string, limit: number): Promise<Omit<PolicyRevision, 'content'>[]> {
    const rows = await this.db
      .selectFrom('policy_revisions')
      .select(['policy', 'revision', 'author', 'at', 'reason', 'change', 'rolled_back_to'])
      .where('policy', '=', policy)
      .orderBy('revision', 'desc')
      .limit(limit)
      .execute();
    return rows.map(revisionMeta);
  }

  async getPolicyRevision(policy: string, revision: number): Promise<PolicyRevision | null> {
    const row = await this.db.selectFrom('policy_revisions').selectAll().where('policy', '=', policy).where('revision', '=', revision).executeTakeFirst();
    return row ? { ...revisionMeta(row), content: await this.contentOf(policy, revision, storedFormOf(row)) } : null;
  }

  /** Each named policy at its current revision (contents read below, only those not kept). */
  private current() {
    return this.db.selectFrom('named_policies as p').select(['p.name', 'p.display_name', 'p.description', 'p.revision']);
  }

  private async withContents(rows: { name: string; display_name: string; description: string | null; revision: number }[]): Promise<NamedPolicy[]> {
    const policies: NamedPolicy[] = [];
    for (const row of rows) {
      const revision = Number(row.revision);
      const content = this.contents.get(row.name, revision) ?? (await this.contentOf(row.name, revision, await this.storedForm(row.name, revision)));
      policies.push({
        name: row.name,
        displayName: row.display_name,
        ...(row.description !== null && row.description !== undefined ? { description: row.description } : {}),
        revision,
        content,
      });
    }
    return policies;
  }

  private async storedForm(policy: string, revision: number): Promise<StoredContent> {
    const stored = await readStoredForm(this.db, policy, revision);
    if (!stored) throw new Error(`policy ${policy} is at revision ${revision}, which is not stored`);
    return stored;
  }

  private contentOf(policy: string, revision: number, stored: StoredContent): Promise<PolicyContent> {
    return contentOf(this.db, this.contents, policy, revision, stored);
  }
}

function revisionMeta(row: RevisionRow): Omit<PolicyRevision, 'content'> {
  return {
    policy: row.policy,
    revision: Number(row.revision),
    author: row.author,
    at: row.at,
    ...(row.reason !== null && row.reason !== undefined ? { reason: row.reason } : {}),
    change: RevisionChangeSchema.parse(row.change),
    ...(row.rolled_back_to !== null && row.rolled_back_to !== undefined ? { rolledBackTo: Number(row.rolled_back_to) } : {}),
  };
}

/** The revision parts of a policy change (inside its transaction): each must be its policy's next. */
export async function writeRevisions(trx: StoreTrx, change: PolicyChange, contents: RevisionContents): Promise<void> {
  for (const { displayName, description, revision: r } of change.revisions ?? []) {
    const held = await trx.selectFrom('named_policies').select('revision').where('name', '=', r.policy).executeTakeFirst();
    const expected = held ? Number(held.revision) + 1 : 1;
    if (r.revision !== expected)
      throw new ConflictError('stale-revision', `policy ${r.policy} is at revision ${expected - 1}; this change was made against another revision, try again`);
    const fields = { display_name: displayName, description: description ?? null, revision: r.revision };
    if (held) await trx.updateTable('named_policies').set(fields).where('name', '=', r.policy).execute();
    else
      await trx
        .insertInto('named_policies')
        .values({ name: r.policy, ...fields })
        .execute();
    await trx
      .insertInto('policy_revisions')
      .values({
        policy: r.policy,
        revision: r.revision,
        author: r.author,
        at: r.at,
        reason: r.reason ?? null,
        change: r.change,
        rolled_back_to: r.rolledBackTo ?? null,
        ...(await storedForm(trx, contents, r)),
      })
      .execute();
  }
}
