import type { ConsoleStore } from './store.js';
import { SqliteAppRequests } from './sqlite/app-requests.js';
import { SqliteAudit } from './sqlite/audit.js';
import { SqliteAups } from './sqlite/aups.js';
import { SqliteConcerns } from './sqlite/concerns.js';
import { openConsoleDatabase, type Db } from './sqlite/database.js';
import { SqliteDeviceHistory } from './sqlite/device-history.js';
import { SqliteDevices } from './sqlite/devices.js';
import { SqliteEnrollTokens } from './sqlite/enroll-tokens.js';
import { SqliteEvents } from './sqlite/events.js';
import { SqlitePolicies } from './sqlite/policies.js';
import { SqliteSettings } from './sqlite/settings.js';
import { SqliteStations } from './sqlite/stations.js';
import { SqliteUsers } from './sqlite/users.js';
import { SqliteAssignments } from './sqlite/assignments.js';
import { SqliteGroups } from './sqlite/groups.js';
import { SqliteNamedPolicies } from './sqlite/named-policies.js';
import { SqlitePolicyChanges } from './sqlite/policy-changes.js';
import { SqliteIdentities } from './sqlite/identities.js';
import { SqliteSecondFactors } from './sqlite/second-factors.js';

/** The embedded store: one adapter per domain over one database file. */
export interface SqliteStore extends ConsoleStore {
  readonly kind: 'sqlite';
  /** For the contract test that the file is in WAL mode. */
  journalMode(): string;
}

/** Opens (creating and migrating as needed) the console database in `file`. */
export function openSqliteStore(file: string): SqliteStore {
  const db = openConsoleDatabase(file);
  const domains = [
    new SqliteSettings(db),
    new SqliteUsers(db),
    new SqliteIdentities(db),
    new SqliteSecondFactors(db),
    new SqliteEnrollTokens(db),
    new SqliteDevices(db),
    new SqliteEvents(db),
    new SqlitePolicies(db),
    new SqliteAups(db),
    new SqliteAudit(db),
    new SqliteAppRequests(db),
    new SqliteStations(db),
    new SqliteDeviceHistory(db),
    new SqliteConcerns(db),
    new SqliteGroups(db),
    new SqliteNamedPolicies(db),
    new SqliteAssignments(db),
    new SqlitePolicyChanges(db),
  ];
  const own = {
    kind: 'sqlite' as const,
    journalMode: () => db.pragma('journal_mode', { simple: true }) as string,
    close: async () => void db.close(),
  };
  return composeDomains<SqliteStore>(own, domains, db);
}

/**
 * One object offering every domain adapter's methods, each bound to its adapter. A method name
 * offered by two adapters is a programming error, refused here rather than silently shadowed.
 */
function composeDomains<T>(own: object, domains: object[], db: Db): T {
  const store: Record<string, unknown> = { ...own };
  for (const domain of domains) {
    const proto = Object.getPrototypeOf(domain) as Record<string, unknown>;
    for (const name of Object.getOwnPropertyNames(proto)) {
      const method = proto[name];
      if (name === 'constructor' || typeof method !== 'function') continue;
      if (name in store) {
        db.close();
        throw new Error(`two console store domains both define ${name}`);
      }
      store[name] = (method as (...args: unknown[]) => unknown).bind(domain);
    }
  }
  return store as T;
}
