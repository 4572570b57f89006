import { describe, expect, it } from 'vitest';
import { SsoConfigSchema } from '../../src/shared/sso-config.js';
import { admit } from '../../src/console/sso/admission.js';

const config = (rules: object) =>
  SsoConfigSchema.parse({
    label: 'School',
    issuer: 'https://idp.example',
    clientId: 'c',
    redirectUri: 'https://console.example/api/v1/sso/callback',
    ...rules,
  });

describe('single sign-on admission (the school rules after the token checks)', () => {
  const entra = config({
    allowedTenants: ['t1'],
    groupRoles: [
      { group: 'g-admin', role: 'admin' },
      { group: 'g-tech', role: 'technician' },
    ],
    userRoles: [{ subject: 'named', role: 'safeguarding_lead' }],
  });

  it('takes the first listed group the person is in, not the first of their groups', () => {
    expect(admit({ sub: 's', tid: 't1', groups: ['g-tech', 'g-admin'] }, entra)).toEqual({ ok: true, role: 'admin' });
    expect(admit({ sub: 's', tid: 't1', groups: ['x', 'g-tech'] }, entra)).toEqual({ ok: true, role: 'technician' });
  });

  it('puts a named person before groups, and refuses anyone unmapped or from another tenant', () => {
    expect(admit({ sub: 'named', tid: 't1', groups: ['g-admin'] }, entra)).toEqual({ ok: true, role: 'safeguarding_lead' });
    expect(admit({ sub: 's', tid: 't1', groups: ['x'] }, entra)).toEqual({ ok: false, refusal: 'no-role' });
    expect(admit({ sub: 's', tid: 't1', groups: 'g-admin' }, entra)).toEqual({ ok: false, refusal: 'no-role' });
    expect(admit({ sub: 's', tid: 't2', groups: ['g-admin'] }, entra)).toEqual({ ok: false, refusal: 'tenant' });
    expect(admit({ sub: 's', groups: ['g-admin'] }, entra)).toEqual({ ok: false, refusal: 'tenant' });
  });

  it('matches e-mail only when the provider says it is verified, and checks the Workspace domain', () => {
    const google = config({ allowedDomains: ['school.example'], userRoles: [{ email: 'It@School.example', role: 'admin' }] });
    expect(admit({ sub: 's', hd: 'school.example', email: 'it@school.example', email_verified: true }, google)).toEqual({ ok: true, role: 'admin' });
    expect(admit({ sub: 's', hd: 'school.example', email: 'it@school.example', email_verified: false }, google)).toEqual({ ok: false, refusal: 'no-role' });
    expect(admit({ sub: 's', email: 'it@school.example', email_verified: 'true' }, google)).toEqual({ ok: false, refusal: 'domain' });
    expect(admit({ sub: 's', hd: 'other.example', email: 'it@school.example', email_verified: true }, google)).toEqual({ ok: false, refusal: 'domain' });
    // No hd claim: the verified e-mail's domain is used.
    expect(admit({ sub: 's', email: 'it@school.example', email_verified: true }, google)).toEqual({ ok: true, role: 'admin' });
  });
});
