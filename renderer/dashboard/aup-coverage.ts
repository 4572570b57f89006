import type { AupStatusRow } from '../../src/shared/admin-api.js';

/**
 * The AUP coverage rows (one per user and device) seen per user and per device, for the AUP
 * page's "List by" views, their counts and their CSV. A user's acceptance holds on every device
 * (acceptedAt is the same on each of their rows).
 */
export interface UserCoverage {
  user: string;
  hostnames: string[];
  acceptedAt: string | null;
  typedName: string | null;
  lastSeenAt: string;
}

export interface DeviceCoverage {
  deviceId: string;
  hostname: string;
  users: number;
  accepted: number;
  /** Users seen on the device who have not accepted the current version, by name. */
  pending: string[];
}

export function coverageByUser(rows: readonly AupStatusRow[]): UserCoverage[] {
  const users = new Map<string, UserCoverage>();
  for (const r of rows) {
    const u = users.get(r.user) ?? { user: r.user, hostnames: [], acceptedAt: r.acceptedAt, typedName: r.typedName, lastSeenAt: r.lastSeenAt };
    if (!u.hostnames.includes(r.hostname)) u.hostnames.push(r.hostname);
    if (r.lastSeenAt > u.lastSeenAt) u.lastSeenAt = r.lastSeenAt;
    u.acceptedAt ??= r.acceptedAt;
    u.typedName ??= r.typedName;
    users.set(r.user, u);
  }
  return [...users.values()].map((u) => ({ ...u, hostnames: u.hostnames.sort() })).sort((a, b) => a.user.localeCompare(b.user));
}

export function coverageByDevice(rows: readonly AupStatusRow[]): DeviceCoverage[] {
  const devices = new Map<string, DeviceCoverage>();
  for (const r of rows) {
    const d = devices.get(r.deviceId) ?? { deviceId: r.deviceId, hostname: r.hostname, users: 0, accepted: 0, pending: [] };
    d.users++;
    if (r.acceptedAt === null) d.pending.push(r.user);
    else d.accepted++;
    devices.set(r.deviceId, d);
  }
  return [...devices.values()]
    .map((d) => ({ ...d, pending: d.pending.sort() }))
    .sort((a, b) => a.hostname.localeCompare(b.hostname) || a.deviceId.localeCompare(b.deviceId));
}
