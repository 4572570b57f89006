import { z } from 'zod';

/**
 * Roles separate IT from safeguarding. Permissions are checked by every API route and feed;
 * the matrix below is the single place that says who may do what.
 */
export const RoleSchema = z.enum(['admin', 'systems_manager', 'technician', 'safeguarding_lead']);
export type Role = z.infer<typeof RoleSchema>;

export const PERMISSIONS = {
  'devices:read': ['admin', 'systems_manager', 'technician', 'safeguarding_lead'],
  'devices:revoke': ['admin'],
  /** Lock, log off or message a device now (signed commands). */
  'devices:command': ['admin', 'technician'],
  'events:read': ['admin', 'systems_manager', 'technician'],
  'policy:read': ['admin', 'systems_manager', 'technician'],
  'policy:push': ['admin', 'systems_manager'],
  'enroll-tokens:manage': ['admin'],
  'users:manage': ['admin'],
  'audit:read': ['admin'],
  'aup:read': ['admin', 'systems_manager', 'technician', 'safeguarding_lead'],
  'aup:publish': ['admin', 'systems_manager'],
  /** Pupils' requests to run a program: see them, approve (adds a rule, publishes a policy) or decline. */
  'app-requests:manage': ['admin', 'systems_manager'],
  /** Pupils' reported concerns: the safeguarding lead alone (not IT, not even admin). */
  'concerns:manage': ['safeguarding_lead'],
  /** Register, list and revoke USB scan-station keys (a change publishes a new policy version). */
  'stations:manage': ['admin', 'systems_manager'],
  'feed:subscribe': ['admin', 'systems_manager', 'technician', 'safeguarding_lead'],
} as const satisfies Record<string, readonly Role[]>;
export type Permission = keyof typeof PERMISSIONS;

export function roleAllows(role: Role, permission: Permission): boolean {
  return (PERMISSIONS[permission] as readonly Role[]).includes(role);
}
