import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busServerUnavailable, startNatsServer, type BusServer } from '../../bench/bus-servers.js';
import { postgresUnavailable, startPostgresCluster, type PostgresCluster } from '../../bench/postgres-cluster.js';
import { openFeed, type FeedClient } from '../helpers/feed-client.js';
import { startAgentProcess, startConsoleProcess, type ConsoleHandle } from '../helpers/fleet.js';
import { kill, runCli, stopAll, tempDir, waitUntil, type Proc } from '../helpers/processes.js';
import { skipReason } from '../helpers/requirements.js';

const unavailable = skipReason('console processes on PostgreSQL and NATS', postgresUnavailable() ?? busServerUnavailable('nats'));

let cluster: PostgresCluster;
let nats: BusServer;
let dir: ReturnType<typeof tempDir>;
let a: ConsoleHandle;
let b: ConsoleHandle;
let feedOnA: FeedClient;
let agentOnB: Proc;
let agentOnA: Proc;
let onB: string;
let onA: string;

const logs = (...procs: { stdout: string; stderr: string }[]) => procs.map((p) => `${p.stdout.slice(-2500)}\n${p.stderr.slice(-1500)}`).join('\n-----\n');

/** The one device (of those listed by `console`) with this hostname-independent id, once it is online. */
async function onlineDevice(console: ConsoleHandle, not: string[] = []): Promise<string> {
  return waitUntil(
    async () => (await console.api('/api/v1/devices')).body?.devices?.find((d: { id: string; online: boolean }) => d.online && !not.includes(d.id))?.id,
    90_000,
    () => `no device came online on ${console.url}\n${logs(console.proc)}`,
  );
}

describe.skipIf(unavailable)('several console processes on one PostgreSQL database and a NATS bus', () => {
  beforeAll(async () => {
    cluster = await startPostgresCluster();
    nats = await startNatsServer();
    dir = tempDir();
    const database = await cluster.createDatabase();
    const args = ['--database', database, '--bus', nats.url];
    a = await startConsoleProcess(join(dir.path, 'a'), { args });
    // Every process signs with the fleet's one key: B gets A's, as an operator copies it.
    mkdirSync(join(dir.path, 'b'), { mode: 0o700 });
    copyFileSync(join(dir.path, 'a', 'console-signing-key.pem'), join(dir.path, 'b', 'console-signing-key.pem'));
    b = await startConsoleProcess(join(dir.path, 'b'), { args });
    feedOnA = await openFeed(a.url, a.token);
  }, 180_000);
  afterAll(async () => {
    feedOnA?.close();
    await stopAll();
    await nats?.stop();
    await cluster?.stop();
    dir?.remove();
  });

  it('a dashboard on A sees a device connected to B, live', async () => {
    agentOnB = startAgentProcess(join(dir.path, 'agent-b'), b.url);
    onB = await onlineDevice(b);
    // The feed of A carries B's device coming online: only the bus brings it there.
    const seen = await feedOnA
      .waitFor((m) => m.kind === 'device' && m.device.id === onB && m.device.online === true, 60_000)
      .catch((e) => {
        throw new Error(`${String(e)}\n${logs(a.proc, b.proc)}`);
      });
    expect(seen.device.id).toBe(onB);
    // And A's own device list counts it online (presence), though A holds no connection for it.
    expect((await a.api(`/api/v1/devices/${onB}`)).body.device.online).toBe(true);
    expect((await a.api('/healthz')).body.devicesOnline).toBe(0);
    // A browser's session from A is good on B (sessions are in the shared database).
    expect((await b.api(`/api/v1/devices/${onB}`, { token: a.token })).status).toBe(200);
  }, 180_000);

  it('a lock issued through A reaches the agent connected to B, and its result comes back to A', async () => {
    const sent = await a.api(`/api/v1/devices/${onB}/commands`, { method: 'POST', body: JSON.stringify({ action: 'lock' }) });
    expect(sent.status, JSON.stringify(sent.body)).toBe(200);
    expect(sent.body.delivered).toBe(true);
    // The agent checked the console's signature, device and expiry (a refusal would say which)
    // and answered; there is no desktop session here to lock, so it says so. The frame went
    // A → bus → B → agent, and the answer agent → B → bus → A.
    expect(sent.body.result, logs(a.proc, b.proc, agentOnB)).toEqual({
      outcome: 'unsupported',
      detail: 'session control is not running on this device',
      backend: null,
    });
    const audit = (await a.api('/api/v1/audit?limit=50')).body.audit as { action: string; detail: { id: string; outcome?: string } }[];
    expect(audit.find((e) => e.action === 'device.command-result' && e.detail.id === sent.body.id)?.detail.outcome).toBe(sent.body.result.outcome);
    // The agent's own record of it, stored through B.
    await waitUntil(async () => {
      const events = (await a.api(`/api/v1/events?device=${onB}&type=command.received&limit=100`)).body.events as { event: { data: { id?: string } } }[];
      return events.some((e) => e.event.data.id === sent.body.id);
    }, 60_000);
  }, 120_000);

  it('a policy published through A reaches the agents on A and on B', async () => {
    agentOnA = startAgentProcess(join(dir.path, 'agent-a'), a.url);
    onA = await onlineDevice(a, [onB]);
    expect((await a.api('/healthz')).body.devicesOnline).toBe(1);
    const published = await a.api('/api/v1/policies', {
      method: 'POST',
      body: JSON.stringify({ policy: { format: 'vigil-policy/1', name: 'fan-out test', aup: { variant: 'pupils' } }, expiresInDays: 1 }),
    });
    expect(published.status, JSON.stringify(published.body)).toBe(201);
    const version = published.body.version as number;
    // Each agent stays connected (no new hello): only a notice through its own process gets it there.
    for (const id of [onA, onB]) {
      await waitUntil(
        async () => (await a.api(`/api/v1/devices/${id}`)).body.device?.policyVersion === version,
        60_000,
        () => `policy ${version} never applied on ${id}\n${logs(a.proc, b.proc, agentOnA, agentOnB)}`,
      );
    }
  }, 180_000);

  it('an assignment through A moves the device on B to its new group set, and a rule added after reaches it where B placed it', async () => {
    const versionOf = async (id: string) => (await a.api(`/api/v1/devices/${id}`)).body.device?.policyVersion as number;
    const changed = async (path: string, body: object) => {
      const res = await a.api(path, { method: 'POST', body: JSON.stringify(body) });
      expect(res.status, JSON.stringify(res.body)).toBeLessThan(300);
      return res.body as { version: number | null };
    };
    const reached = (id: string, version: number) =>
      waitUntil(
        async () => (await versionOf(id)) === version,
        60_000,
        () => `policy ${version} never applied on ${id}\n${logs(a.proc, b.proc, agentOnA, agentOnB)}`,
      );
    const before = await versionOf(onA);
    // Nothing uses the group or the policy yet: no device moves and nothing is signed.
    await changed('/api/v1/groups', { name: 'bus-lab', displayName: 'Lab', devices: [onB] });
    await changed('/api/v1/named-policies', { name: 'bus-lab-policy', displayName: 'Lab policy' });
    // Assigning makes the group matter: B's device moves to a new set, whose bundle only it gets.
    const assigned = await changed('/api/v1/assignments', { policy: 'bus-lab-policy', group: 'bus-lab', precedence: 10 });
    expect(assigned.version).toBeGreaterThan(before);
    await reached(onB, assigned.version!);
    // A rule moves nobody: B keeps its placements and still sends its device the lab set's bundle.
    const ruled = await changed('/api/v1/named-policies/bus-lab-policy/rules', {
      rule: { kind: 'sha256', sha256: 'ab'.repeat(32), action: 'allow' },
      reason: 'lab software',
    });
    expect(ruled.version).toBeGreaterThan(assigned.version!);
    await reached(onB, ruled.version!);
    // The device on A is in neither: its set was never signed again.
    expect(await versionOf(onA)).toBe(before);
  }, 180_000);

  it('an AUP published through A reaches the agents on A and on B', async () => {
    const published = await a.api('/api/v1/aups', {
      method: 'POST',
      body: JSON.stringify({ variant: 'pupils', title: 'ICT rules', markdown: 'Be kind online.' }),
    });
    expect(published.status, JSON.stringify(published.body)).toBe(201);
    const stored = new RegExp(`stored AUP.*"variant":"pupils".*"version":${published.body.version as number}`);
    for (const agent of [agentOnA, agentOnB]) {
      await waitUntil(
        () => stored.test(agent.stdout + agent.stderr),
        60_000,
        () => logs(agent, a.proc, b.proc),
      );
    }
  }, 120_000);

  it('the sign-in throttle counts failures made on A when the guesser moves to B', async () => {
    const login = (console: ConsoleHandle) =>
      console.api('/api/v1/login', { method: 'POST', body: JSON.stringify({ username: 'guessed', password: 'wrong-password-1' }), token: null });
    for (let i = 0; i < 5; i++) expect((await login(a)).status).toBe(401);
    expect((await login(a)).status).toBe(429);
    // On its own, B would allow five failures before refusing; with A's counted it refuses sooner.
    let ownFailures = 0;
    await waitUntil(async () => {
      const r = await login(b);
      if (r.status === 401) ownFailures++;
      return r.status === 429;
    }, 60_000);
    expect(ownFailures).toBeLessThan(5);
  }, 120_000);

  it('a command for a device no process holds is answered not delivered', async () => {
    await kill(agentOnB);
    await waitUntil(
      async () => (await a.api(`/api/v1/devices/${onB}`)).body.device?.online === false,
      60_000,
      () => logs(a.proc, b.proc),
    );
    const sent = await a.api(`/api/v1/devices/${onB}/commands`, { method: 'POST', body: JSON.stringify({ action: 'lock' }) });
    // The console's answer to an undelivered command (commands are never queued), and the audit says so.
    expect(sent.status, JSON.stringify(sent.body)).toBe(409);
    expect(sent.body.error).toBe('device-offline');
    const audit = (await a.api('/api/v1/audit?limit=20')).body.audit as { action: string; target: string; detail: { delivered?: boolean } }[];
    expect(audit.find((e) => e.action === 'device.command' && e.target === onB)?.detail.delivered).toBe(false);
  }, 120_000);

  it('a device revoked through B is cut off by A, which holds its connection', async () => {
    expect((await a.api('/healthz')).body.devicesOnline).toBe(1);
    const revoked = await b.api(`/api/v1/devices/${onA}/revoke`, { method: 'POST' });
    expect(revoked.status, JSON.stringify(revoked.body)).toBe(200);
    // Revocation is checked when a device authenticates; only the bus gets A to close a live connection.
    await waitUntil(
      async () => (await a.api('/healthz')).body.devicesOnline === 0,
      60_000,
      () => logs(a.proc, b.proc, agentOnA),
    );
    await waitUntil(
      () => /revoked/i.test(agentOnA.stdout + agentOnA.stderr),
      60_000,
      () => logs(agentOnA),
    );
  }, 120_000);

  it('refuses --bus without --database, and a bus URL that is not nats://, changing nothing', async () => {
    const noDb = await runCli(['console', '--data-dir', join(dir.path, 'c'), '--bus', nats.url, '--port', '0'], {}, 30_000);
    expect(noDb.code).toBe(2);
    expect(noDb.stderr).toMatch(/--bus needs --database/);
    const redis = await runCli(
      ['console', '--data-dir', join(dir.path, 'c'), '--database', cluster.url('x'), '--bus', 'redis://127.0.0.1:1', '--port', '0'],
      {},
      30_000,
    );
    expect(redis.code).toBe(2);
    expect(redis.stderr).toMatch(/nats:\/\//);
  }, 60_000);
});
