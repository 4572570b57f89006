import type { Selectable } from 'kysely';
import { PolicyContentSchema, RevisionChangeSchema, type NamedPolicy, type PolicyContent, type PolicyRevision } from '../../../shared/policies/model.js';
import { ConflictError } from '../../errors.js';
import type { NamedPolicyStore, PolicyChange } from '../store.js';
import type { Engine, StoreDb, StoreTrx } from './engine.js';
import type { ConsoleTables } from './schema.js';

/** Parsed revisions kept: each policy's current one, and a few more for diffs. */
const CONTENTS_KEPT = 32;

type RevisionRow = Omit<Selectable<ConsoleTables['policy_revisions']>, 'content'>;

/**
 * Parsed contents by policy and revision, per database: a revision never changes once stored (on
 * any engine), and a policy of 100,000 rules is read on every change, so each revision is parsed
 * once — or not at all when this process wrote it (rememberRevisions). Keeping the written objects
 * also keeps the console's per-rule caches (canonical texts, sorted lists) across changes.
 */
const contentsByDb = new WeakMap<StoreDb, Map<string, PolicyContent>>();

function contentsOf(db: StoreDb): Map<string, PolicyContent> {
  let contents = contentsByDb.get(db);
  if (!contents) contentsByDb.set(db, (contents = new Map()));
  return contents;
}

const contentKey = (policy: string, revision: number) => `${policy}\u0000${revision}`;

function keep(contents: Map<string, PolicyContent>, key: string, content: PolicyContent): void {
  contents.set(key, content);
  // The current revisions are what is read again; older ones (a diff, a rollback) are parsed
  // when asked. Unbounded, every revision of a 100,000-rule policy would stay in memory.
  if (contents.size > CONTENTS_KEPT) contents.delete(contents.keys().next().value!);
}

/** After a change's transaction committed: its revisions' contents, as written, are what a read would parse. */
export function rememberRevisions(db: StoreDb, change: PolicyChange): void {
  const contents = contentsOf(db);
  for (const { revision: r } of change.revisions ?? []) keep(contents, contentKey(r.policy, r.revision), r.content);
}

export class SqlNamedPolicies implements NamedPolicyStore {
  private readonly contents: Map<string, PolicyContent>;

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
    return row ? { ...revisionMeta(row), content: this.contentOf(policy, revision, row.content) } : null;
  }

  /** Each named policy at its current revision (contents read below, only those not kept). */
  private current() {
    return this.db.selectFrom('named_policies as p').select(['p.name', 'p.display_name', 'p.description', 'p.revision']);
  }

  private async withContents(rows: { name: string; display_name: string; description: string | null; revision: number }[]): Promise<NamedPolicy[]> {
    const policies: NamedPolicy[] = [];
    for (const row of rows) {
      const revision = Number(row.revision);
      const content = this.contents.get(contentKey(row.name, revision)) ?? this.contentOf(row.name, revision, await this.storedContent(row.name, revision));
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

  private async storedContent(policy: string, revision: number): Promise<string> {
    const row = await this.db
      .selectFrom('policy_revisions')
      .select('content')
      .where('policy', '=', policy)
      .where('revision', '=', revision)
      .executeTakeFirstOrThrow();
    return row.content;
  }

  private contentOf(policy: string, revision: number, text: string): PolicyContent {
    const key = contentKey(policy, revision);
    let content = this.contents.get(key);
    if (!content) {
      content = PolicyContentSchema.parse(JSON.parse(text));
      keep(this.contents, key, content);
    }
    return content;
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
