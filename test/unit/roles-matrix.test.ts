import { describe, expect, it } from 'vitest';
import { PERMISSIONS, RoleSchema, roleAllows, type Permission } from '../../src/shared/roles.js';
import { MATRIX, ROLES } from '../helpers/permission-matrix.js';

describe('roles and the permission matrix', () => {
  it('knows exactly the four roles, and no other', () => {
    expect(RoleSchema.options).toEqual(ROLES);
    for (const role of ROLES) expect(RoleSchema.safeParse(role).success, role).toBe(true);
    for (const other of ['', 'Admin', 'root', 'pupil', 'teacher', 'safeguarding', 'admin ']) {
      expect(RoleSchema.safeParse(other).success, JSON.stringify(other)).toBe(false);
    }
  });

  it('has exactly the permissions in the table', () => {
    expect(Object.keys(PERMISSIONS).sort()).toEqual(Object.keys(MATRIX).sort());
  });

  it('allows every role exactly what the table says, for every permission', () => {
    const cells = Object.entries(MATRIX).flatMap(([permission, row]) =>
      ROLES.map((role, i) => ({ permission: permission as Permission, role, allowed: row[i] })),
    );
    expect(cells).toHaveLength(15 * 4);
    for (const { permission, role, allowed } of cells) expect(roleAllows(role, permission), `${role} ${permission}`).toBe(allowed);
  });

  it('separates IT from safeguarding: concerns for the safeguarding lead alone, device control and policy for IT alone', () => {
    expect(ROLES.filter((r) => roleAllows(r, 'concerns:manage'))).toEqual(['safeguarding_lead']);
    for (const p of ['devices:command', 'devices:revoke', 'policy:push', 'policy:read', 'events:read', 'users:manage', 'audit:read'] as const) {
      expect(roleAllows('safeguarding_lead', p), p).toBe(false);
    }
  });
});
