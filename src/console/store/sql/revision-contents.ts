import type { PolicyContent } from '../../../shared/policies/model.js';
import type { PolicyChange } from '../store.js';
import type { StoreDb } from './engine.js';

/** Parsed revisions kept: each policy's current one and its anchor (revision-storage.ts), and a few more for diffs. */
const CONTENTS_KEPT = 32;

/**
 * Parsed contents by policy and revision, for one database: a revision never changes once stored
 * (on any engine), and a policy of 100,000 rules is read on every change, so each revision is
 * parsed once — or not at all when this process wrote it (rememberRevisions). Keeping the written
 * objects also keeps the console's per-rule caches (canonical texts, sorted lists) across changes,
 * and lets the next revision be stored as runs of its anchor's very records.
 */
export class RevisionContents {
  private readonly byKey = new Map<string, PolicyContent>();

  /** A kept content, which then counts as the most recently used. */
  get(policy: string, revision: number): PolicyContent | undefined {
    const key = contentKey(policy, revision);
    const content = this.byKey.get(key);
    if (content) this.keepKey(key, content);
    return content;
  }

  keep(policy: string, revision: number, content: PolicyContent): void {
    this.keepKey(contentKey(policy, revision), content);
  }

  private keepKey(key: string, content: PolicyContent): void {
    // Most recently used last: the current revisions and their anchors are what is read again;
    // older ones (a diff, a rollback) are parsed when asked. Unbounded, every revision of a
    // 100,000-rule policy would stay in memory.
    this.byKey.delete(key);
    this.byKey.set(key, content);
    if (this.byKey.size > CONTENTS_KEPT) this.byKey.delete(this.byKey.keys().next().value!);
  }
}

const contentKey = (policy: string, revision: number) => `${policy}\u0000${revision}`;

const contentsByDb = new WeakMap<StoreDb, RevisionContents>();

export function contentsOf(db: StoreDb): RevisionContents {
  let contents = contentsByDb.get(db);
  if (!contents) contentsByDb.set(db, (contents = new RevisionContents()));
  return contents;
}

/** After a change's transaction committed: its revisions' contents, as written, are what a read would parse. */
export function rememberRevisions(db: StoreDb, change: PolicyChange): void {
  const contents = contentsOf(db);
  for (const { revision: r } of change.revisions ?? []) contents.keep(r.policy, r.revision, r.content);
}
