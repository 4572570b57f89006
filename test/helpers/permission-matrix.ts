import type { Permission, Role } from '../../src/shared/roles.js';

/**
 * The permission matrix, written out here rather than read from the code under test: a role
 * gaining or losing a permission in src/shared/roles.ts must change this table too, on purpose.
 * Columns: admin, systems_manager, technician, safeguarding_lead.
 */
export const ROLES: readonly Role[] = ['admin', 'systems_manager', 'technician', 'safeguarding_lead'];
export const MATRIX: Readonly<Record<Permission, readonly [boolean, boolean, boolean, boolean]>> = {
  'devices:read': [true, true, true, true],
  'devices:revoke': [true, false, false, false],
  'devices:command': [true, false, true, false],
  'events:read': [true, true, true, false],
  'policy:read': [true, true, true, false],
  'policy:push': [true, true, false, false],
  'enroll-tokens:manage': [true, false, false, false],
  'users:manage': [true, false, false, false],
  'audit:read': [true, false, false, false],
  'aup:read': [true, true, true, true],
  'aup:publish': [true, true, false, false],
  'app-requests:manage': [true, true, false, false],
  'concerns:manage': [false, false, false, true],
  'stations:manage': [true, true, false, false],
  'feed:subscribe': [true, true, true, true],
};
