import { groupSetKey, groupsThatMatter } from '../../shared/policies/merge.js';
import { membershipsOf, type Membership } from '../../shared/policies/membership.js';
import type { AssignmentSet, DeviceFacts, DeviceGroup, NamedPolicy, PolicyContent } from '../../shared/policies/model.js';
import type { AssignmentStore, DeviceStore, GroupStore, NamedPolicyStore, PolicyChange } from '../store/store.js';
import type { PolicyModel } from './publisher.js';

/**
 * Everything the console decides effective policies from, read at once, and the pure functions
 * over it: which groups each device is in, which group sets exist, and what a change would make
 * of it (so limits are checked before the change is stored).
 */
export interface PlaneState {
  groups: DeviceGroup[];
  policies: Map<string, NamedPolicy>;
  assignments: AssignmentSet | null;
  tokenGroups: Map<string, string[]>;
  /** Enrolled devices that are not revoked. */
  devices: DeviceFacts[];
}

/**
 * The state but its devices: what a change is built from, and enough to tell whether it can move
 * any device to another group set (reading 40,000 devices for a one-rule change is seconds).
 */
export type PlaneConfig = Omit<PlaneState, 'devices'>;

export type PlaneStore = GroupStore & NamedPolicyStore & AssignmentStore & Pick<DeviceStore, 'listDevices' | 'getDevice'>;

export async function loadPlaneConfig(store: PlaneStore): Promise<PlaneConfig> {
  const [groups, policies, assignments, tokenGroups] = await Promise.all([
    store.listGroups(),
    store.listNamedPolicies(),
    store.getAssignments(),
    store.listTokenGroups(),
  ]);
  return { groups, policies: new Map(policies.map((p) => [p.name, p])), assignments, tokenGroups };
}

export async function loadPlaneState(store: PlaneStore): Promise<PlaneState> {
  const [config, devices] = await Promise.all([loadPlaneConfig(store), loadPlaneDevices(store)]);
  return { ...config, devices };
}

/** Every enrolled device that is not revoked, with the facts group membership is decided on. */
export async function loadPlaneDevices(store: PlaneStore): Promise<DeviceFacts[]> {
  const [ownership, devices] = await Promise.all([store.listDeviceOwnership(), store.listDevices()]);
  return devices
    .filter((d) => !d.revoked)
    .map((d) => ({ id: d.id, hostname: d.hostname, enrollmentTokenId: d.enrolledWith, ownership: ownership.get(d.id) ?? null }));
}

/** One device's facts, read alone (enrolment and a hostname change place one device, not the fleet); null if unknown or revoked. */
export async function deviceFactsOf(store: PlaneStore, deviceId: string): Promise<DeviceFacts | null> {
  const [device, ownership] = await Promise.all([store.getDevice(deviceId), store.deviceOwnership(deviceId)]);
  if (!device || device.revoked) return null;
  return { id: device.id, hostname: device.hostname, enrollmentTokenId: device.enrolledWith, ownership };
}

export function membershipsIn(state: PlaneConfig, device: DeviceFacts): Membership[] {
  return membershipsOf(device, state.groups, state.tokenGroups);
}

export function modelOf(state: PlaneConfig): PolicyModel | null {
  if (!state.assignments) return null;
  const policies = new Map<string, PolicyContent>([...state.policies].map(([name, p]) => [name, p.content]));
  const titles = new Map([...state.policies].map(([name, p]) => [name, { displayName: p.displayName, ...(p.description ? { description: p.description } : {}) }]));
  return { policies, assignments: state.assignments, titles };
}

/**
 * Each device's group set (merge.ts groupSetKey) and every set in use, the empty set always
 * among them (a device enrolling next gets at least the baseline).
 */
export interface Placement {
  byDevice: Map<string, string>;
  sets: Map<string, readonly string[]>;
  /** The groups some assignment or scoped rule uses: only they tell group sets apart. */
  matter: ReadonlySet<string>;
}

export function groupSets(state: PlaneState): Placement {
  const matter = groupsThatMatterIn(state);
  const byDevice = new Map<string, string>();
  // Always published: the empty set (a device enrolling next gets at least the baseline) and the
  // fleet's set (only groups every device is in), whose bundle is the fleet's published policy.
  const universal = universalGroups(state).filter((g) => matter.has(g));
  const sets = new Map<string, readonly string[]>([
    [groupSetKey([], matter), []],
    [groupSetKey(universal, matter), universal],
  ]);
  const placement = { byDevice, sets, matter };
  for (const device of state.devices) place(state, placement, device);
  return placement;
}

/** Puts one device in its group set (adding the set if it is new); returns the set's key. */
export function place(state: PlaneConfig, placement: Placement, device: DeviceFacts): string {
  const groups = membershipsIn(state, device)
    .map((m) => m.group)
    .filter((g) => placement.matter.has(g));
  const key = groupSetKey(groups, placement.matter);
  placement.byDevice.set(device.id, key);
  if (!placement.sets.has(key)) placement.sets.set(key, groups);
  return key;
}

/** Members of each group: listed devices (enrolled or not) and enrolled devices matched by a rule or token default. */
export function groupMembers(state: PlaneState): Map<string, string[]> {
  const members = new Map(state.groups.map((g) => [g.name, new Set(g.devices)]));
  for (const device of state.devices) for (const m of membershipsIn(state, device)) members.get(m.group)?.add(device.id);
  return new Map([...members].map(([name, ids]) => [name, [...ids].sort()]));
}

/** Groups every device is in whatever it reports: a hostname rule of nothing but `*`. */
export function universalGroups(state: PlaneConfig): string[] {
  return state.groups.filter((g) => g.rules.some((r) => r.kind === 'hostname' && /^\*+$/.test(r.pattern))).map((g) => g.name);
}

/** The groups some assignment or scoped rule uses (Placement.matter). */
export function groupsThatMatterIn(state: PlaneConfig): Set<string> {
  const model = modelOf(state);
  return model ? groupsThatMatter(model.policies, model.assignments) : new Set<string>();
}

/**
 * Whether a change can put a device in another group set: it edits groups, token defaults or
 * ownership, or changes which groups matter (an assignment, a rule scoped to a group). A change to
 * rules and settings alone leaves every device where it was, so the fleet need not be read again.
 */
export function changeCanMoveDevices(before: PlaneConfig, change: PolicyChange, after: PlaneConfig): boolean {
  if (change.renameGroup || change.putGroups?.length || change.tokenGroups?.length || change.ownership?.length || change.deleteGroups?.length) return true;
  const was = groupsThatMatterIn(before);
  const now = groupsThatMatterIn(after);
  return was.size !== now.size || [...now].some((g) => !was.has(g));
}

/** The state a change would leave (the store applies the same change in one transaction). */
export function applyChange(state: PlaneState, change: PolicyChange): PlaneState {
  const owned = new Map((change.ownership ?? []).map((o) => [o.deviceId, o.ownership]));
  const devices = owned.size === 0 ? state.devices : state.devices.map((d) => (owned.has(d.id) ? { ...d, ownership: owned.get(d.id)! } : d));
  return { ...applyConfigChange(state, change), devices };
}

/** The same without devices. */
export function applyConfigChange(state: PlaneConfig, change: PolicyChange): PlaneConfig {
  let groups = state.groups;
  let tokenGroups = state.tokenGroups;
  if (change.renameGroup) {
    const { from, to } = change.renameGroup;
    groups = groups.map((g) => (g.name === from ? { ...g, name: to } : g));
    tokenGroups = new Map([...tokenGroups].map(([token, names]) => [token, names.map((n) => (n === from ? to : n))]));
  }
  for (const put of change.putGroups ?? []) groups = [...groups.filter((g) => g.name !== put.name), put];
  if (change.tokenGroups) {
    tokenGroups = new Map(tokenGroups);
    for (const { tokenId, groups: names } of change.tokenGroups) tokenGroups.set(tokenId, names);
  }
  const policies = new Map(state.policies);
  for (const { displayName, description, revision } of change.revisions ?? [])
    policies.set(revision.policy, { name: revision.policy, displayName, ...(description ? { description } : {}), revision: revision.revision, content: revision.content });
  const deleted = new Set(change.deleteGroups ?? []);
  if (deleted.size > 0) {
    groups = groups.filter((g) => !deleted.has(g.name));
    tokenGroups = new Map([...tokenGroups].map(([token, names]) => [token, names.filter((n) => !deleted.has(n))]));
  }
  return {
    groups: groups.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
    policies,
    assignments: change.assignments ?? state.assignments,
    tokenGroups,
  };
}
