import { PolicyContentSchema, RevisionChangeSchema, type NamedPolicy, type PolicyContent, type PolicyRevision } from '../../../shared/policies/model.js';
import { ConflictError } from '../../errors.js';
import type { NamedPolicyStore, PolicyChange } from '../store.js';
import { nullableNumber, nullableText, type Db, type Row } from './database.js';

/**
 * Parsed contents by policy and revision: a revision never changes once stored, and a policy of
 * 100,000 rules is read on every change, so each revision is parsed once.
 */
const parsedContents = new WeakMap<Db, Map<string, PolicyContent>>();

function contentOf(db: Db, policy: string, revision: number, text: string): PolicyContent {
  let cache = parsedContents.get(db);
  if (!cache) parsedContents.set(db, (cache = new Map()));
  const key = `${policy}\u0000${revision}`;
  let content = cache.get(key);
  if (!content) {
    content = PolicyContentSchema.parse(JSON.parse(text));
    cache.set(key, content);
  }
  return content;
}

export class SqliteNamedPolicies implements NamedPolicyStore {
  constructor(private readonly db: Db) {}

  async listNamedPolicies(): Promise<NamedPolicy[]> {
    const rows = this.db
      .prepare('SELECT p.*, r.content FROM named_policies p JOIN policy_revisions r ON r.policy = p.name AND r.revision = p.revision ORDER BY p.name')
      .all() as Row[];
    return rows.map((row) => this.toPolicy(row));
  }

  async getNamedPolicy(name: string): Promise<NamedPolicy | null> {
    const row = this.db
      .prepare('SELECT p.*, r.content FROM named_policies p JOIN policy_revisions r ON r.policy = p.name AND r.revision = p.revision WHERE p.name = ?')
      .get(name) as Row | undefined;
    return row ? this.toPolicy(row) : null;
  }

  async listPolicyRevisions(policy: string, limit: number): Promise<Omit<PolicyRevision, 'content'>[]> {
    const rows = this.db
      .prepare('SELECT policy, revision, author, at, reason, change, rolled_back_to FROM policy_revisions WHERE policy = ? ORDER BY revision DESC LIMIT ?')
      .all(policy, limit) as Row[];
    return rows.map(revisionMeta);
  }

  async getPolicyRevision(policy: string, revision: number): Promise<PolicyRevision | null> {
    const row = this.db.prepare('SELECT * FROM policy_revisions WHERE policy = ? AND revision = ?').get(policy, revision) as Row | undefined;
    return row ? { ...revisionMeta(row), content: contentOf(this.db, policy, revision, String(row.content)) } : null;
  }

  private toPolicy(row: Row): NamedPolicy {
    const description = nullableText(row.description);
    return {
      name: String(row.name),
      displayName: String(row.display_name),
      ...(description !== null ? { description } : {}),
      revision: Number(row.revision),
      content: contentOf(this.db, String(row.name), Number(row.revision), String(row.content)),
    };
  }
}

function revisionMeta(row: Row): Omit<PolicyRevision, 'content'> {
  const reason = nullableText(row.reason);
  const rolledBackTo = nullableNumber(row.rolled_back_to);
  return {
    policy: String(row.policy),
    revision: Number(row.revision),
    author: String(row.author),
    at: String(row.at),
    ...(reason !== null ? { reason } : {}),
    change: RevisionChangeSchema.parse(row.change),
    ...(rolledBackTo !== null ? { rolledBackTo } : {}),
  };
}

/** The revision parts of a policy change (inside its transaction): each must be its policy's next. */
export function writeRevisions(db: Db, change: PolicyChange): void {
  for (const { displayName, description, revision: r } of change.revisions ?? []) {
    const held = db.prepare('SELECT revision FROM named_policies WHERE name = ?').get(r.policy) as Row | undefined;
    const expected = held ? Number(held.revision) + 1 : 1;
    if (r.revision !== expected)
      throw new ConflictError('stale-revision', `policy ${r.policy} is at revision ${expected - 1}; this change was made against another revision, try again`);
    if (held)
      db.prepare('UPDATE named_policies SET display_name = ?, description = ?, revision = ? WHERE name = ?').run(
        displayName,
        description ?? null,
        r.revision,
        r.policy,
      );
    else
      db.prepare('INSERT INTO named_policies (name, display_name, description, revision) VALUES (?, ?, ?, ?)').run(
        r.policy,
        displayName,
        description ?? null,
        r.revision,
      );
    db.prepare('INSERT INTO policy_revisions (policy, revision, author, at, reason, change, rolled_back_to, content) VALUES (?, ?, ?, ?, ?, ?, ?, ?)').run(
      r.policy,
      r.revision,
      r.author,
      r.at,
      r.reason ?? null,
      r.change,
      r.rolledBackTo ?? null,
      JSON.stringify(r.content),
    );
  }
}
