import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haproxyUnavailable, startHaproxy, type RunningHaproxy } from '../../bench/haproxy.js';
import { postgresUnavailable, startPostgresCluster, type PostgresCluster } from '../../bench/postgres-cluster.js';
import { startConsoleProcess, type ConsoleHandle } from '../helpers/fleet.js';
import { stopAll, tempDir, waitUntil } from '../helpers/processes.js';
import { skipReason } from '../helpers/requirements.js';

/**
 * /healthz and the documented HAProxy configuration (bench/haproxy.ts, docs/haproxy.cfg): a console
 * process that cannot reach its database answers 503, HAProxy takes it out of rotation and sends
 * every request to the other, and both come back when the database does.
 */
const unavailable = skipReason('haproxy health', postgresUnavailable() ?? haproxyUnavailable());

let clusters: PostgresCluster[] = [];
let consoles: ConsoleHandle[] = [];
let proxy: RunningHaproxy;
let dir: ReturnType<typeof tempDir>;

describe.skipIf(unavailable)('health checks behind HAProxy', () => {
  beforeAll(async () => {
    dir = tempDir();
    // Two processes, each on a database of its own, so that one can lose its database alone.
    clusters = await Promise.all([startPostgresCluster(), startPostgresCluster()]);
    consoles = [];
    for (const [i, cluster] of clusters.entries()) {
      consoles.push(await startConsoleProcess(join(dir.path, `console${i}`), { args: ['--database', await cluster.createDatabase()] }));
    }
    proxy = await startHaproxy({ servers: consoles.map((c, i) => ({ name: `console${i}`, address: `127.0.0.1:${c.port}` })) });
  }, 120_000);
  afterAll(async () => {
    await proxy?.stop();
    await stopAll();
    await Promise.all(clusters.map((c) => c.stop()));
    dir?.remove();
  });

  it('a process that cannot reach its database answers 503 and HAProxy sends everyone to the other until it is back', async () => {
    // A kept-alive socket the server closes just as it is reused fails once ("other side closed"): asked again, as a browser would.
    const once = (url: string) => fetch(`${url}/healthz`).then(async (r) => ({ status: r.status, body: await r.json() }));
    const health = (url: string) => once(url).catch(() => once(url));
    expect(await health(consoles[0]!.url)).toEqual({ status: 200, body: { ok: true, database: 'reachable', devicesOnline: 0 } });
    await waitUntil(
      async () => Object.values(await proxy.serverStates()).every((s) => s === 'UP'),
      30_000,
      () => proxy.log(),
    );

    await clusters[0]!.halt();
    expect(await health(consoles[0]!.url)).toEqual({ status: 503, body: { ok: false, database: 'unreachable', devicesOnline: 0 } });
    // The reason is in the process's log, not in the public answer.
    await consoles[0]!.proc.waitFor(/health check failed.*unreachable/, 20_000, 'stderr');
    expect(await health(consoles[1]!.url)).toMatchObject({ status: 200 });
    await waitUntil(
      async () => (await proxy.serverStates()).console0 === 'DOWN',
      30_000,
      () => proxy.log(),
    );
    expect((await proxy.serverStates()).console1).toBe('UP');
    // Everything through the balancer now lands on the healthy process.
    for (let i = 0; i < 10; i++) expect((await health(proxy.url)).status).toBe(200);

    await clusters[0]!.resume();
    await waitUntil(async () => (await health(consoles[0]!.url)).status === 200, 30_000);
    await waitUntil(
      async () => (await proxy.serverStates()).console0 === 'UP',
      30_000,
      () => proxy.log(),
    );
  }, 120_000);
});
