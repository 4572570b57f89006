import type { AssignmentSet } from '../../../shared/policies/model.js';
import type { AssignmentStore, PolicyChange } from '../store.js';
import type { Engine, StoreDb, StoreTrx } from './engine.js';
import { highestPolicyVersion, setPolicyFloor } from './policies.js';

const BASELINE_SETTING = 'policy.baseline';

export class SqlAssignments implements AssignmentStore {
  constructor(
    private readonly db: StoreDb,
    private readonly engine: Engine,
  ) {}

  async getAssignments(): Promise<AssignmentSet | null> {
    const baseline = await this.db.selectFrom('settings').select('value').where('key', '=', BASELINE_SETTING).executeTakeFirst();
    if (!baseline) return null;
    const rows = await this.db.selectFrom('policy_assignments').select(['policy', 'group_name', 'precedence']).orderBy('precedence', 'desc').execute();
    return {
      baseline: baseline.value,
      assignments: rows.map((row) => ({ policy: row.policy, group: row.group_name, precedence: Number(row.precedence) })),
    };
  }

  /** The next policy version, reserved by raising the floor (under the same lock as publishing). */
  async allocatePolicyVersion(): Promise<number> {
    return this.engine.allocatingTransaction('policies', async (trx) => {
      const next = (await highestPolicyVersion(trx)) + 1;
      await setPolicyFloor(trx, next);
      return next;
    });
  }
}

/** The assignment part of a policy change (inside its transaction): the whole set is replaced. */
export async function writeAssignments(trx: StoreTrx, change: PolicyChange): Promise<void> {
  if (!change.assignments) return;
  const baseline = change.assignments.baseline;
  await trx
    .insertInto('settings')
    .values({ key: BASELINE_SETTING, value: baseline })
    .onConflict((oc) => oc.column('key').doUpdateSet({ value: baseline }))
    .execute();
  await trx.deleteFrom('policy_assignments').execute();
  if (change.assignments.assignments.length > 0)
    await trx
      .insertInto('policy_assignments')
      .values(change.assignments.assignments.map((a) => ({ policy: a.policy, group_name: a.group, precedence: a.precedence })))
      .execute();
}
