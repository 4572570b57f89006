import type { Role } from '../../shared/roles.js';
import type { SsoConfig } from '../../shared/sso-config.js';

export type Admission = { ok: true; role: Role } | { ok: false; refusal: 'tenant' | 'domain' | 'no-role' };

/**
 * Who the provider says this is, and whether the school's configuration lets them in and with
 * which role. Claims come from an id_token whose signature, issuer, audience, expiry and nonce
 * were already checked; this decides only the school's own rules, in order: tenant, domain,
 * a named person, then the first listed group they belong to.
 */
export function admit(claims: Record<string, unknown>, config: SsoConfig): Admission {
  if (config.allowedTenants.length > 0 && !config.allowedTenants.includes(stringClaim(claims, 'tid') ?? '')) return { ok: false, refusal: 'tenant' };
  const email = verifiedEmail(claims);
  if (config.allowedDomains.length > 0) {
    const domain = stringClaim(claims, 'hd') ?? email?.split('@')[1] ?? '';
    if (!config.allowedDomains.map((d) => d.toLowerCase()).includes(domain.toLowerCase())) return { ok: false, refusal: 'domain' };
  }
  const subject = stringClaim(claims, 'sub');
  for (const entry of config.userRoles) {
    if ('subject' in entry ? entry.subject === subject : email !== null && entry.email.toLowerCase() === email) return { ok: true, role: entry.role };
  }
  const groups = claims[config.groupsClaim];
  const memberOf = new Set(Array.isArray(groups) ? groups.filter((g): g is string => typeof g === 'string') : []);
  const byGroup = config.groupRoles.find((g) => memberOf.has(g.group));
  return byGroup ? { ok: true, role: byGroup.role } : { ok: false, refusal: 'no-role' };
}

/** The e-mail only when the provider vouches for it (`email_verified`), lower-cased. */
export function verifiedEmail(claims: Record<string, unknown>): string | null {
  const email = stringClaim(claims, 'email');
  return email && claims.email_verified === true ? email.toLowerCase() : null;
}

function stringClaim(claims: Record<string, unknown>, name: string): string | null {
  const value = claims[name];
  return typeof value === 'string' ? value : null;
}
