import type { Selectable } from 'kysely';
import { PolicyContentSchema, RevisionChangeSchema, type NamedPolicy, type PolicyContent, type PolicyRevision } from '../../../shared/policies/model.js';
import { ConflictError } from '../../errors.js';
import type { NamedPolicyStore, PolicyChange } from '../store.js';
import type { Engine, StoreDb, StoreTrx } from './engine.js';
import type { ConsoleTables } from './schema.js';

/** Parsed revisions kept: each policy's current one, and a few more for diffs. */
const CONTENTS_KEPT = 32;

type RevisionRow = Omit<Selectable<ConsoleTables['policy_revisions']>, 'content'>;

export class SqlNamedPolicies implements NamedPolicyStore {
  /**
   * Parsed contents by policy and revision: a revision never changes once stored (on any engine),
   * and a policy of 100,000 rules is read on every change, so each revision is parsed once.
   */
  private readonly contents = new Map<string, PolicyContent>();

  constructor(
    private readonly db: StoreDb,
    _engine: Engine,
  ) {}

  async listNamedPolicies(): Promise<NamedPolicy[]> {
    return (await this.current().orderBy('p.name').execute()).map((row) => this.toPolicy(row));
  }

  async getNamedPolicy(name: string): Promise<NamedPolicy | null> {
    const row = await this.current().where('p.name', '=', name).executeTakeFirst();
    return row ? this.toPolicy(row) : null;
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
    return row ? { ...revisionMeta(row), content: this.contentOf(policy, revision, row.content) } : null;
  }

  /** Each named policy with the content of its current revision. */
  private current() {
    return this.db
      .selectFrom('named_policies as p')
      .innerJoin('policy_revisions as r', (join) => join.onRef('r.policy', '=', 'p.name').onRef('r.revision', '=', 'p.revision'))
      .select(['p.name', 'p.display_name', 'p.description', 'p.revision', 'r.content']);
  }

  private contentOf(policy: string, revision: number, text: string): PolicyContent {
    const key = `${policy}\u0000${revision}`;
    let content = this.contents.get(key);
    if (!content) {
      content = PolicyContentSchema.parse(JSON.parse(text));
      this.contents.set(key, content);
      // The current revisions are what is read again; older ones (a diff, a rollback) are parsed
      // when asked. Unbounded, every revision of a 100,000-rule policy would stay in memory.
      if (this.contents.size > CONTENTS_KEPT) this.contents.delete(this.contents.keys().next().value!);
    }
    return content;
  }

  private toPolicy(row: { name: string; display_name: string; description: string | null; revision: number; content: string }): NamedPolicy {
    return {
      name: row.name,
      displayName: row.display_name,
      ...(row.description !== null && row.description !== undefined ? { description: row.description } : {}),
      revision: Number(row.revision),
      content: this.contentOf(row.name, Number(row.revision), row.content),
    };
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
export async function writeRevisions(trx: StoreTrx, change: PolicyChange): Promise<void> {
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
        content: JSON.stringify(r.content),
      })
      .execute();
  }
}
