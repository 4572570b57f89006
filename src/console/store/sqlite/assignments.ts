import type { AssignmentSet } from '../../../shared/policies/model.js';
import type { AssignmentStore, PolicyChange } from '../store.js';
import type { Db, Row } from './database.js';

const BASELINE_SETTING = 'policy.baseline';

export class SqliteAssignments implements AssignmentStore {
  constructor(private readonly db: Db) {}

  async getAssignments(): Promise<AssignmentSet | null> {
    const baseline = this.db.prepare('SELECT value FROM settings WHERE key = ?').get(BASELINE_SETTING) as Row | undefined;
    if (!baseline) return null;
    const rows = this.db.prepare('SELECT policy, group_name, precedence FROM policy_assignments ORDER BY precedence DESC').all() as Row[];
    return {
      baseline: String(baseline.value),
      assignments: rows.map((row) => ({ policy: String(row.policy), group: String(row.group_name), precedence: Number(row.precedence) })),
    };
  }

  async allocatePolicyVersion(): Promise<number> {
    return this.db
      .transaction(() => {
        const row = this.db
          .prepare(
            `SELECT MAX(COALESCE((SELECT MAX(version) FROM policies), 0),
                      COALESCE((SELECT CAST(value AS INTEGER) FROM settings WHERE key = 'policy.floor'), 0)) AS v`,
          )
          .get() as Row;
        const next = Number(row.v) + 1;
        this.db.prepare(`INSERT INTO settings (key, value) VALUES ('policy.floor', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`).run(String(next));
        return next;
      })
      .immediate();
  }
}

/** The assignment part of a policy change (inside its transaction): the whole set is replaced. */
export function writeAssignments(db: Db, change: PolicyChange): void {
  if (!change.assignments) return;
  db.prepare(`INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`).run(
    BASELINE_SETTING,
    change.assignments.baseline,
  );
  db.prepare('DELETE FROM policy_assignments').run();
  const insert = db.prepare('INSERT INTO policy_assignments (policy, group_name, precedence) VALUES (?, ?, ?)');
  for (const a of change.assignments.assignments) insert.run(a.policy, a.group, a.precedence);
}
