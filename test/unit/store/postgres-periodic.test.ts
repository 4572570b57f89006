import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { postgresUnavailable, startPostgresCluster, type PostgresCluster } from '../../../bench/postgres-cluster.js';
import { AgentHub } from '../../../src/console/agent-hub.js';
import { EventRouter } from '../../../src/console/agent-link/event-router.js';
import { newAgentLinkStats } from '../../../src/console/agent-link/stats.js';
import { FeedHub } from '../../../src/console/feed.js';
import { loadOrCreateConsoleIdentity } from '../../../src/console/identity.js';
import { Maintenance } from '../../../src/console/maintenance.js';
import { postgresPeriodicLock } from '../../../src/console/store/periodic-lock.js';
import { openPostgresStore } from '../../../src/console/store/postgres-store.js';
import { signPolicyBundle } from '../../../src/shared/node/policy-verify.js';
import { createLogger } from '../../../src/shared/node/log.js';
import { tempDir } from '../../helpers/processes.js';
import { skipReason } from '../../helpers/requirements.js';

const unavailable = skipReason('postgres periodic lock', postgresUnavailable());
let cluster: PostgresCluster;

describe.skipIf(unavailable)('periodic work on one console process at a time (PostgreSQL advisory lock)', () => {
  beforeAll(async () => {
    cluster = await startPostgresCluster();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('one process holds the lock; when its connection dies the next process to ask takes it', async () => {
    const url = await cluster.createDatabase();
    const a = postgresPeriodicLock(url);
    const b = postgresPeriodicLock(url);
    expect(await a.holds()).toBe(true);
    expect(await b.holds()).toBe(false);
    expect(await a.holds()).toBe(true);
    // Process A dies: the server ends its session (as it does for a killed process's connection).
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted");
    await admin.end();
    expect(await b.holds()).toBe(true);
    expect(await a.holds()).toBe(false);
    await a.close();
    await b.close();
  });

  it('two consoles due to renew the policy publish one new version, not two', async () => {
    const url = await cluster.createDatabase();
    const dir = tempDir();
    const identity = loadOrCreateConsoleIdentity(dir.path);
    const log = createLogger('test', 'error');
    const consoles = await Promise.all(
      [0, 1].map(async () => {
        const store = await openPostgresStore(url);
        const stats = newAgentLinkStats();
        const hub = new AgentHub(store, identity, new EventRouter(stats, log), stats, log);
        const feed = new FeedHub();
        const lock = postgresPeriodicLock(url);
        // Renewal as distribution does it, over the shared store: the latest bundle signed again, one version up.
        const renewal = {
          needsRenewal: async () => Date.parse((await store.latestPolicy())!.bundle.payload.expiresAt) - Date.now() < 3 * 86400_000,
          renewAll: async () => {
            const latest = (await store.latestPolicy())!;
            const expiresAt = new Date(Date.now() + 10 * 86400_000).toISOString();
            const record = await store.publishPolicy((version) => ({
              ...latest,
              version,
              bundle: signPolicyBundle({ ...latest.bundle.payload, version, expiresAt }, identity.privateKey, identity.publicKey),
            }));
            return { version: record.version, notified: 0 };
          },
        };
        const maintenance = new Maintenance(store, renewal, log, {
          retentionDays: 180,
          closedConcernRetentionDays: 365,
          intervalMs: 3600_000,
          lock,
        });
        return { store, hub, feed, lock, maintenance };
      }),
    );
    const [first] = consoles;
    // A policy issued long ago and nearly expired: due for renewal on both.
    const doc = { format: 'vigil-policy/1' as const, name: 'p', agent: { heartbeatSeconds: 30, statusSeconds: 60 } };
    const issuedAt = new Date(Date.now() - 9 * 86400_000).toISOString();
    const expiresAt = new Date(Date.now() + 86400_000).toISOString();
    await first!.store.publishPolicy((version) => ({
      version,
      document: doc,
      publishedBy: 'admin',
      publishedAt: issuedAt,
      bundle: signPolicyBundle({ kind: 'vigil.policy-bundle', version, issuedAt, expiresAt, policy: doc }, identity.privateKey, identity.publicKey),
    }));
    await Promise.all(consoles.map((c) => c.maintenance.runOnce()));
    await Promise.all(consoles.map((c) => c.maintenance.runOnce()));
    expect((await first!.store.listPolicies(10)).map((p) => p.version)).toEqual([2, 1]);
    for (const c of consoles) {
      await c.lock.close();
      await c.hub.close();
      c.feed.close();
      await c.store.close();
    }
    dir.remove();
  });
});
