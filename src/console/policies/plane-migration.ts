import { BASELINE_POLICY, migrateSinglePolicy } from '../../shared/policies/from-document.js';
import { ConflictError } from '../errors.js';
import type { PolicyChangeStore, PolicyStore } from '../store/store.js';
import type { PlaneStore } from './plane-state.js';

/**
 * The one-time data step of the upgrade to the policy plane (migration 0006 made the tables):
 * the single document the console last published becomes the baseline policy (revision 1,
 * change `migration`) and its `groups` become console groups listing the same devices, so every
 * device keeps enforcing exactly what it enforced. Nothing is published: devices keep the bundle
 * they hold, and the version counter is the one that numbered it, so the next version is higher.
 * Idempotent: it does nothing once any named policy or baseline exists, and of two consoles
 * starting on one database the second's write is refused as a stale revision.
 */
export async function migrateSinglePolicyOnce(store: PlaneStore & PolicyChangeStore & Pick<PolicyStore, 'latestPolicy'>, now: Date): Promise<boolean> {
  if ((await store.getAssignments()) !== null || (await store.listNamedPolicies()).length > 0) return false;
  const latest = await store.latestPolicy();
  if (!latest) return false;
  const at = now.toISOString();
  const migrated = migrateSinglePolicy(latest.document, at);
  const existing = new Set((await store.listGroups()).map((g) => g.name));
  try {
    await store.applyPolicyChange({
      putGroups: migrated.groups.filter((g) => !existing.has(g.name)),
      revisions: [
        {
          displayName: migrated.baseline.displayName,
          ...(migrated.baseline.description ? { description: migrated.baseline.description } : {}),
          revision: {
            policy: BASELINE_POLICY,
            revision: 1,
            author: 'system:migration',
            at,
            reason: `the single policy document of version ${latest.version}`,
            change: 'migration',
            content: migrated.baseline.content,
          },
        },
      ],
      assignments: { baseline: BASELINE_POLICY, assignments: [] },
      audit: [
        {
          at,
          actor: 'system:migration',
          action: 'policy.migrated',
          target: `policy:${BASELINE_POLICY}`,
          detail: { fromVersion: latest.version, groups: migrated.groups.map((g) => g.name), notes: migrated.notes },
        },
      ],
    });
  } catch (error) {
    if (error instanceof ConflictError) return false;
    throw error;
  }
  return true;
}
