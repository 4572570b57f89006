import type { PolicyModel, PublicationPlan } from './publisher.js';

/**
 * The seam between the policy plane (groups, named policies, assignments: what each device should
 * enforce) and policy distribution (signing one bundle per group set, telling devices, serving
 * their fetches). The plane calls it for every change, in this order and one change at a time:
 * `prepare` before anything is stored (so a change whose effective policy would break a limit is
 * refused with the limit named and nothing changes), then the store transaction (revision +
 * audit), then `commit` with the same plan. Proposed by policy-delivery in
 * /work/notes/policy-seam.md; the plane codes against exactly this interface.
 */
export interface PolicyDistributionPort {
  /** Merges every group set and checks limits, changing nothing. Throws PolicyLimitError (publisher.ts). */
  prepare(model: PolicyModel, groupSets: Map<string, readonly string[]>): Promise<PublicationPlan>;
  /**
   * After the plane's store transaction: signs the changed sets (at one new version) and notifies
   * the connected devices in them. `version` is that version, or null when no set changed.
   */
  commit(plan: PublicationPlan): Promise<DistributionResult>;
  /** A device's group set may have changed (group edit, token default groups, ownership, enrolment): tell it now. */
  deviceMoved(deviceId: string): Promise<boolean>;
}

export interface DistributionResult {
  changedKeys: string[];
  /** Connected devices told about the change. */
  notified: number;
  version: number | null;
}

/** What the plane provides to distribution (constructor deps at the composition root). */
export interface PolicyPlaneView {
  /** The device's group set (merge.ts groupSetKey) and its groups; null for an unknown or revoked device. */
  groupSetOf(deviceId: string): Promise<{ key: string; groups: readonly string[] } | null>;
  /** The console-wide policy version counter: strictly above every version issued before, across restarts. */
  nextVersion(): Promise<number>;
}

/**
 * What one console process tells the others after a policy change (cluster/broadcasts.ts):
 * `devices` names the devices whose group set may have changed (enrolment, hostname, a group
 * edit that moved a few), which are placed again; without it, placements changed broadly and
 * every process places every device again. `planeChanged`: groups, policies or assignments
 * changed, so they are read again before placing. `signed`: bundles were signed (the plane may
 * have changed too), so every process offers every device it holds its set's bundle, not only
 * the named ones.
 */
export interface PolicyChangeNotice {
  devices?: string[];
  planeChanged?: true;
  signed?: true;
}
