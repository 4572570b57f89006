import { ConflictError } from '../../errors.js';
import type { PolicyChange, PolicyChangeStore } from '../store.js';
import { writeAssignments } from './assignments.js';
import type { Engine, StoreDb } from './engine.js';
import { deleteGroups, writeGroupChanges } from './groups.js';
import { writeRevisions } from './named-policies.js';
import { contentsOf, rememberRevisions } from './revision-contents.js';

/** Writes one policy-plane change and its audit entries in one transaction (store.ts PolicyChange). */
export class SqlPolicyChanges implements PolicyChangeStore {
  constructor(
    private readonly db: StoreDb,
    private readonly engine: Engine,
  ) {}

  async applyPolicyChange(change: PolicyChange): Promise<void> {
    try {
      await this.db.transaction().execute(async (trx) => {
        await writeGroupChanges(trx, change);
        await writeRevisions(trx, change, contentsOf(this.db));
        await writeAssignments(trx, change);
        await deleteGroups(trx, change);
        if (change.audit.length > 0)
          await trx
            .insertInto('audit')
            .values(change.audit.map((e) => ({ at: e.at, actor: e.actor, action: e.action, target: e.target, detail: JSON.stringify(e.detail) })))
            .execute();
      });
      rememberRevisions(this.db, change);
    } catch (error) {
      // On a shared database, two processes changing one policy at once: the second's revision repeats the first's.
      if (this.engine.isUniqueViolation(error)) throw new ConflictError('key-in-use', 'a group, policy or precedence with that name or number already exists');
      throw error;
    }
  }
}
