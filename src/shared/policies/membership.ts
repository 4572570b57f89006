import type { DeviceFacts, DeviceGroup, MembershipRule } from './model.js';

/**
 * Which console groups a device is in (browser-safe, pure). A device is a member of a group if
 * the group lists it, if any of the group's membership rules matches it, or if the enrollment
 * token it used names the group as a default. A device may be in any number of groups.
 */

/** `*` any run of characters, `?` one; the whole hostname, case-insensitively. */
export function hostnameMatches(pattern: string, hostname: string): boolean {
  const p = pattern.toLowerCase();
  const h = hostname.toLowerCase();
  // Iterative glob with single-star backtracking: linear in practice, never exponential.
  let pi = 0;
  let hi = 0;
  let star = -1;
  let mark = 0;
  while (hi < h.length) {
    if (pi < p.length && (p[pi] === '?' || p[pi] === h[hi])) {
      pi++;
      hi++;
    } else if (pi < p.length && p[pi] === '*') {
      star = pi++;
      mark = hi;
    } else if (star >= 0) {
      pi = star + 1;
      hi = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.length && p[pi] === '*') pi++;
  return pi === p.length;
}

export function ruleMatches(rule: MembershipRule, device: DeviceFacts): boolean {
  switch (rule.kind) {
    case 'enrollment-token':
      return device.enrollmentTokenId === rule.tokenId;
    case 'ownership':
      return device.ownership === rule.ownership;
    case 'hostname':
      return hostnameMatches(rule.pattern, device.hostname);
  }
}

/** Why a device is in a group, for the device page and for `explain`. */
export type MembershipReason = { kind: 'explicit' } | { kind: 'rule'; rule: MembershipRule } | { kind: 'token-default'; tokenId: string };

export interface Membership {
  group: string;
  reasons: MembershipReason[];
}

/**
 * The device's groups, sorted by name, each with every reason it is a member.
 * `tokenGroups` maps an enrollment token id to the default groups it carries; a default naming
 * a group that does not exist (deleted since) is ignored.
 */
/** Explicit members as a set, made once per group object (never mutated): a group may list 100,000 devices. */
const explicitMembers = new WeakMap<DeviceGroup, Set<string>>();
function listed(group: DeviceGroup, deviceId: string): boolean {
  let members = explicitMembers.get(group);
  if (!members) {
    members = new Set(group.devices);
    explicitMembers.set(group, members);
  }
  return members.has(deviceId);
}

export function membershipsOf(
  device: DeviceFacts,
  groups: readonly DeviceGroup[],
  tokenGroups: ReadonlyMap<string, readonly string[]> = new Map(),
): Membership[] {
  const tokenDefaults = new Set(device.enrollmentTokenId ? (tokenGroups.get(device.enrollmentTokenId) ?? []) : []);
  const result: Membership[] = [];
  for (const group of groups) {
    const reasons: MembershipReason[] = [];
    if (listed(group, device.id)) reasons.push({ kind: 'explicit' });
    for (const rule of group.rules) if (ruleMatches(rule, device)) reasons.push({ kind: 'rule', rule });
    if (tokenDefaults.has(group.name)) reasons.push({ kind: 'token-default', tokenId: device.enrollmentTokenId! });
    if (reasons.length > 0) result.push({ group: group.name, reasons });
  }
  return result.sort((a, b) => (a.group < b.group ? -1 : a.group > b.group ? 1 : 0));
}

export function groupsOf(device: DeviceFacts, groups: readonly DeviceGroup[], tokenGroups?: ReadonlyMap<string, readonly string[]>): string[] {
  return membershipsOf(device, groups, tokenGroups).map((m) => m.group);
}
