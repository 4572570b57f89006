import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresUnavailable, startPostgresCluster, type PostgresCluster } from '../../bench/postgres-cluster.js';
import { openPostgresStore } from '../../src/console/store/postgres-store.js';
import { openSqliteStore } from '../../src/console/store/sqlite-store.js';
import type { ConsoleStore } from '../../src/console/store/store.js';
import { generateEd25519KeyPair, keyId } from '../../src/shared/node/crypto.js';
import { addRule } from '../../src/shared/policies/edits.js';
import { hashRecord } from '../helpers/policy-model.js';
import { ENROLL_TOKEN, startAgentProcess, startConsoleProcess } from '../helpers/fleet.js';
import { kill, runCli, stopAll, tempDir, waitUntil } from '../helpers/processes.js';
import { skipReason } from '../helpers/requirements.js';

const unavailable = skipReason('console on PostgreSQL', postgresUnavailable());
const SIG = { alg: 'ed25519' as const, keyId: '0123456789abcdef', value: `${'A'.repeat(86)}==` };

let cluster: PostgresCluster;
let dir: ReturnType<typeof tempDir>;

/** What a console shows of every domain, read through the port (so both engines answer the same questions). */
async function snapshot(store: ConsoleStore, deviceId: string) {
  return {
    users: await store.listUsers(),
    tokens: await store.listEnrollTokens(),
    devices: await store.listDevices(),
    events: await store.listEvents({ limit: 1000 }),
    policies: await store.listPolicies(100),
    latestPolicy: await store.latestPolicy(),
    aups: await store.listAups(),
    coverage: await store.aupCoverage({}),
    audit: await store.listAudit(1000),
    stations: await store.listStationKeys(),
    history: await store.listDeviceHistory(deviceId, { limit: 100 }),
    concerns: await store.listConcerns({ limit: 100 }),
    appRequests: await store.listAppRequests({ limit: 100 }),
    floor: await store.getSetting('policy.floor'),
    namedPolicies: await store.listNamedPolicies(),
    revisions: await everyRevision(store),
  };
}

async function everyRevision(store: ConsoleStore) {
  const revisions = [];
  for (const { name } of await store.listNamedPolicies())
    for (const { revision } of await store.listPolicyRevisions(name, 100)) revisions.push(await store.getPolicyRevision(name, revision));
  return revisions;
}

/** A named policy big enough for its one-rule change to be stored as runs of its first revision (store/sql/revision-storage.ts). */
async function seedBigPolicy(store: ConsoleStore, at: string): Promise<void> {
  const first = { settings: {}, rules: Array.from({ length: 2_000 }, (_, i) => hashRecord(i + 1)) };
  const second = addRule(first, hashRecord(5_000)).content;
  for (const [i, content] of [first, second].entries())
    await store.applyPolicyChange({
      revisions: [{ displayName: 'Big', revision: { policy: 'big', revision: i + 1, author: 'admin', at, change: i === 0 ? 'create' : 'rule-add', content } }],
      audit: [],
    });
}

describe.skipIf(unavailable)('console on PostgreSQL: migrate from SQLite, then run on it', () => {
  beforeAll(async () => {
    cluster = await startPostgresCluster();
    dir = tempDir();
  });
  afterAll(async () => {
    await stopAll();
    await cluster?.stop();
    dir?.remove();
  });

  it('copies a real console (every domain) into an empty database, refuses a non-empty one, and serves its devices from it', async () => {
    const dataDir = join(dir.path, 'console');
    // A real SQLite console with a real enrolled agent.
    const sqliteConsole = await startConsoleProcess(dataDir);
    const agent = startAgentProcess(join(dir.path, 'agent'), sqliteConsole.url);
    await waitUntil(async () => (await sqliteConsole.api('/api/v1/devices')).body?.devices?.[0]?.online === true, 60_000);
    const deviceId: string = (await sqliteConsole.api('/api/v1/devices')).body.devices[0].id;
    await kill(agent);
    await sqliteConsole.stop();

    // The rest of what a console holds, through the store: policies, AUPs and receipts, stations, queues, history, events.
    const seeded = openSqliteStore(join(dataDir, 'console.db'));
    const at = '2026-01-01T00:00:00.000Z';
    const doc = { format: 'vigil-policy/1' as const, name: 'p', agent: { heartbeatSeconds: 30, statusSeconds: 60 } };
    await seeded.publishPolicy((version) => ({
      version,
      document: doc,
      publishedBy: 'admin',
      publishedAt: at,
      bundle: { payload: { kind: 'vigil.policy-bundle', version, issuedAt: at, expiresAt: at, policy: doc }, signature: SIG },
    }));
    await seeded.raisePolicyFloor(40);
    await seeded.publishAup('pupils', (version) => ({
      variant: 'pupils',
      version,
      publishedBy: 'admin',
      publishedAt: at,
      signed: { payload: { kind: 'vigil.aup', variant: 'pupils', version, title: 'AUP', markdown: 'Be kind.', publishedAt: at }, signature: SIG },
    }));
    await seeded.insertAupReceipt(
      {
        payload: { kind: 'vigil.aup-receipt', deviceId, user: 'pat', variant: 'pupils', version: 1, aupHash: 'a'.repeat(64), typedName: 'Pat', acceptedAt: at },
        signature: SIG,
      },
      at,
    );
    const stationKey = generateEd25519KeyPair().publicKey;
    await seeded.insertStationKey({ id: 'station-1', publicKey: stationKey, keyId: keyId(stationKey), registeredBy: 'admin', registeredAt: at });
    await seeded.insertConcern({ id: randomUUID(), deviceId, user: 'pat', reportedAt: at, category: 'other', text: 'help', wantsContact: false }, at);
    await seeded.insertAppRequest({
      id: randomUUID(),
      deviceId,
      requestedAt: at,
      name: 'app',
      path: '/bin/app',
      sha256: 'b'.repeat(64),
      signer: '',
      user: null,
      reason: null,
    });
    await seeded.appendDeviceHistory(deviceId, { at, kind: 'presence', presence: 'online' });
    await seeded.insertEvents(deviceId, [{ id: randomUUID(), seq: 100_000, at, type: 'diagnostic.test', data: { note: 'x', n: 1 } } as never], at);
    await seedBigPolicy(seeded, at);
    const before = await snapshot(seeded, deviceId);
    await seeded.close();
    expect(before.devices.length).toBe(1);
    expect(before.audit.length).toBeGreaterThan(0);

    const url = await cluster.createDatabase();
    const migrated = await runCli(['console', 'migrate', '--data-dir', dataDir, '--to', url], {}, 120_000);
    expect(migrated.stderr).toBe('');
    expect(migrated.code).toBe(0);
    expect(migrated.stdout).toMatch(/Copied \d+ rows/);
    expect(migrated.stdout).toMatch(/devices: 1\b/);

    const copy = await openPostgresStore(url);
    expect(await snapshot(copy, deviceId)).toEqual(before);
    // The revision stored as runs is copied as runs, with its anchor: read above as the content written.
    expect(before.revisions.filter((r) => r?.policy === 'big').map((r) => r!.content.rules.length)).toEqual([2_001, 2_000]);
    const pg = await import('pg');
    const client = new pg.default.Client({ connectionString: url });
    await client.connect();
    const stored = await client.query<{ revision: number; base_revision: number | null }>(
      "SELECT revision, base_revision FROM policy_revisions WHERE policy = 'big' ORDER BY revision",
    );
    await client.end();
    expect(stored.rows).toEqual([
      { revision: 1, base_revision: null },
      { revision: 2, base_revision: 1 },
    ]);
    // Identity columns continue after the copied ids: new audit rows and events are stored, and numbered after.
    await copy.appendAudit({ at, actor: 'test', action: 'after.copy', target: null, detail: {} });
    expect((await copy.listAudit(1))[0]!.id).toBe(before.audit[0]!.id + 1);
    // A new policy is numbered above the copied floor.
    await copy.close();

    // Once data is there, a second copy is refused and changes nothing.
    const again = await runCli(['console', 'migrate', '--data-dir', dataDir, '--to', url], {}, 120_000);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already holds data/);
    const unchanged = await openPostgresStore(url);
    expect((await unchanged.listDevices()).length).toBe(1);
    expect((await unchanged.listAudit(1000)).length).toBe(before.audit.length + 1);
    await unchanged.close();

    // The console runs on PostgreSQL with the same data directory (same signing key): the admin's
    // password still works, the device is there, and the agent reconnects to it.
    // Same address as before: an enrolled agent keeps the console URL it enrolled with.
    const pgConsole = await startConsoleProcess(dataDir, { port: sqliteConsole.port, args: ['--database', url] });
    const listed = await pgConsole.api('/api/v1/devices');
    expect(listed.status, JSON.stringify(listed.body) + pgConsole.proc.stderr.slice(-2000)).toBe(200);
    expect(listed.body.devices.map((d: { id: string }) => d.id)).toEqual([deviceId]);
    const back = startAgentProcess(join(dir.path, 'agent'), pgConsole.url);
    await waitUntil(async () => (await pgConsole.api('/api/v1/devices')).body?.devices?.[0]?.online === true, 60_000).catch((e) => {
      throw new Error(
        `${String(e)}\nagent: ${back.stdout.slice(-3000)}${back.stderr.slice(-2000)}\nconsole: ${pgConsole.proc.stdout.slice(-3000)}${pgConsole.proc.stderr.slice(-3000)}`,
      );
    });
    await kill(back);

    // A second process whose data directory lacks the fleet's signing key is refused before it listens.
    const stranger = await runCli(
      ['console', '--data-dir', join(dir.path, 'no-key'), '--database', url, '--port', '0'],
      { VIGIL_ENROLL_TOKEN: ENROLL_TOKEN },
      60_000,
    );
    expect(stranger.code).toBe(1);
    expect(stranger.stderr).toMatch(/copy console-signing-key\.pem/);
    await pgConsole.stop();
  }, 300_000);

  it('refuses a database URL that is not PostgreSQL and a missing source, changing nothing', async () => {
    const bad = await runCli(['console', '--database', 'mysql://x/y', '--port', '0'], {}, 30_000);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/postgres:\/\//);
    const url = await cluster.createDatabase();
    const none = await runCli(['console', 'migrate', '--data-dir', join(dir.path, 'nothing-here'), '--to', url], {}, 60_000);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/does not exist/);
  });
});
