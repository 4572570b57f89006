import type { Engine, StoreDb } from './engine.js';
import { SqlAppRequests } from './app-requests.js';
import { SqlAssignments } from './assignments.js';
import { SqlAudit } from './audit.js';
import { SqlAups } from './aups.js';
import { SqlConcerns } from './concerns.js';
import { SqlDeviceHistory } from './device-history.js';
import { SqlDevices } from './devices.js';
import { SqlEnrollTokens } from './enroll-tokens.js';
import { SqlEvents } from './events.js';
import { SqlGroups } from './groups.js';
import { SqlIdentities } from './identities.js';
import { SqlNamedPolicies } from './named-policies.js';
import { SqlPolicies } from './policies.js';
import { SqlPolicyChanges } from './policy-changes.js';
import { SqlPresenceLeases } from './presence-leases.js';
import { SqlSecondFactors } from './second-factors.js';
import { SqlSettings } from './settings.js';
import { SqlStations } from './stations.js';
import { SqlUsers } from './users.js';

/**
 * Every domain of the console store, each one file of Kysely queries that both engines run. A new
 * domain is one more file here, its tables in schema.ts, one migration (SQLite and PostgreSQL text
 * side by side) and its contract tests (docs/scaling.md, "Adding a store domain").
 */
export const STORE_DOMAINS: readonly (new (db: StoreDb, engine: Engine) => object)[] = [
  SqlSettings,
  SqlUsers,
  SqlIdentities,
  SqlSecondFactors,
  SqlEnrollTokens,
  SqlDevices,
  SqlPresenceLeases,
  SqlEvents,
  SqlPolicies,
  SqlAups,
  SqlAudit,
  SqlAppRequests,
  SqlStations,
  SqlDeviceHistory,
  SqlConcerns,
  SqlGroups,
  SqlNamedPolicies,
  SqlAssignments,
  SqlPolicyChanges,
];

/**
 * One object offering every domain's methods, each bound to its domain object. A method name
 * offered by two domains is a programming error, refused here rather than silently shadowed.
 */
export function composeDomains<T>(own: object, db: StoreDb, engine: Engine): T {
  const store: Record<string, unknown> = { ...own };
  for (const Domain of STORE_DOMAINS) {
    const domain = new Domain(db, engine);
    const proto = Object.getPrototypeOf(domain) as Record<string, unknown>;
    for (const name of Object.getOwnPropertyNames(proto)) {
      const method = proto[name];
      if (name === 'constructor' || typeof method !== 'function') continue;
      if (name in store) throw new Error(`two console store domains both define ${name}`);
      store[name] = (method as (...args: unknown[]) => unknown).bind(domain);
    }
  }
  return store as T;
}
