import type { PolicyChange, PolicyChangeStore } from '../store.js';
import { writeAssignments } from './assignments.js';
import { ConflictError } from '../../errors.js';
import { isUniqueViolation, type Db } from './database.js';
import { deleteGroups, writeGroupChanges } from './groups.js';
import { writeRevisions } from './named-policies.js';

/** Writes one policy-plane change and its audit entries in one transaction (store.ts PolicyChange). */
export class SqlitePolicyChanges implements PolicyChangeStore {
  constructor(private readonly db: Db) {}

  async applyPolicyChange(change: PolicyChange): Promise<void> {
    try {
      this.db
        .transaction(() => {
          writeGroupChanges(this.db, change);
          writeRevisions(this.db, change);
          writeAssignments(this.db, change);
          deleteGroups(this.db, change);
          const audit = this.db.prepare('INSERT INTO audit (at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)');
          for (const entry of change.audit) audit.run(entry.at, entry.actor, entry.action, entry.target, JSON.stringify(entry.detail));
        })
        .immediate();
    } catch (error) {
      if (isUniqueViolation(error)) throw new ConflictError('key-in-use', 'a group, policy or precedence with that name or number already exists');
      throw error;
    }
  }
}
