import { canonicalJson } from '../../shared/canonical-json.js';
import { mergeEffectivePolicy } from '../../shared/policies/merge.js';
import { PolicyDocumentSchema, type PolicyDocument } from '../../shared/policy.js';
import type { PolicyService } from '../policies.js';
import type { PolicyRecord, PolicyStore, SettingsStore } from '../store/store.js';
import type { DistributionResult, PolicyDistributionPort } from './distribution-port.js';
import { groupMembers, loadPlaneState, modelOf, universalGroups, type PlaneState, type PlaneStore } from './plane-state.js';
import { PolicyLimitError, type PolicyModel, type PolicyPublisher, type PublicationPlan } from './publisher.js';

/**
 * The interim distribution, until per-group-set delivery (branch policy-delivery) replaces it at
 * the composition root: today's path, one signed document for the whole fleet through
 * PolicyService and the `policy` frame. The document is the baseline merged with the policies
 * assigned to groups every device is in (a hostname rule of `*`, as the approvals policy is),
 * with group-scoped rules kept scoped and the groups they name listed with their members, so
 * devices resolve scope as they did before the policy plane. Policies assigned to other groups
 * reach devices only with per-group-set delivery; their effective policy is computed and shown
 * (explain) meanwhile. Regular rules with an expiry are left out from the next publication after
 * it (exceptions lapse on the device itself).
 */

export const LIFETIME_SETTING = 'policy.lifetime-days';
const DEFAULT_LIFETIME_DAYS = 90;

export interface LegacyDistributionDeps {
  store: PlaneStore & SettingsStore & Pick<PolicyStore, 'latestPolicy'>;
  /** Used for its limit checks only: this path signs with PolicyService. */
  publisher: PolicyPublisher;
  policies: PolicyService;
  deliver(record: PolicyRecord): Promise<number>;
  now?: () => Date;
}

/** The one document every device takes: null until a baseline exists. */
export function fleetDocument(state: PlaneState, now: Date): PolicyDocument | null {
  const model = modelOf(state);
  const baseline = model && state.policies.get(model.assignments.baseline);
  if (!model || !baseline) return null;
  const merged = mergeEffectivePolicy({ ...model, groups: universalGroups(state), now, name: baseline.displayName, keepScope: true });
  if (merged.problems.length > 0) throw new PolicyLimitError(merged.problems);
  const document: PolicyDocument = { ...merged.document, ...(baseline.description ? { description: baseline.description } : {}) };
  const apps = document.applications;
  const named = new Set([...(apps?.rules ?? []), ...(apps?.exceptions ?? []).map((e) => e.rule)].flatMap((r) => r.groups ?? []));
  if (named.size > 0) {
    const members = groupMembers(state);
    document.groups = Object.fromEntries([...named].sort().map((g) => [g, members.get(g) ?? []]));
  }
  return PolicyDocumentSchema.parse(document);
}

export class LegacyDistribution implements PolicyDistributionPort {
  constructor(private readonly deps: LegacyDistributionDeps) {}

  prepare(model: PolicyModel, groupSets: Map<string, readonly string[]>): Promise<PublicationPlan> {
    return this.deps.publisher.prepare(model, groupSets);
  }

  async commit(_plan: PublicationPlan): Promise<DistributionResult> {
    const published = await this.publishIfChanged();
    return { changedKeys: published ? ['fleet'] : [], notified: published?.deliveredTo ?? 0, version: published?.version ?? null };
  }

  async deviceMoved(_deviceId: string): Promise<boolean> {
    // Membership shows in the fleet document only through the groups its scoped rules name.
    return (await this.publishIfChanged()) !== null;
  }

  private async publishIfChanged(): Promise<{ version: number; deliveredTo: number } | null> {
    const { store } = this.deps;
    const document = fleetDocument(await loadPlaneState(store), this.deps.now?.() ?? new Date());
    if (!document) return null;
    const latest = await store.latestPolicy();
    if (latest && canonicalJson(latest.document) === canonicalJson(document)) return null;
    const days = Number(await store.getSetting(LIFETIME_SETTING)) || DEFAULT_LIFETIME_DAYS;
    const record = await this.deps.policies.publish(document, 'system:policy-plane', days);
    return { version: record.version, deliveredTo: await this.deps.deliver(record) };
  }
}
