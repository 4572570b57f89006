import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { benchArgs, benchLog, percentile, round } from './args.js';
import { startPostgresCluster } from './postgres-cluster.js';
import { watchDashboard } from './dashboard-watch.js';
import { agentLimitProblem, agentsThatFit, openFileLimit } from './open-files.js';
import { cpuSeconds, rssMb } from './proc-stats.js';

/**
 * `npm run bench:console [-- --agents N --duration S --event-interval S --activity-frames 1|0]`
 * (`--activity-frames 0`: spans only, no live frames; for comparing what the live path costs)
 * Starts a console and, in a separate process, a fleet simulator with N agents that enroll,
 * authenticate, heartbeat and send activity (a span event and a live frame per interval).
 * Measures acked events per second, event-to-ack latency, activity-to-dashboard latency at a
 * live feed subscriber, a policy push reaching every agent, and the console's RSS and CPU.
 * The last line printed is one JSON object with the figures.
 */
// Whatever goes wrong is said in one plain line, with its cause, and the exit status says it failed.
const { log } = benchLog('console');

const args = benchArgs({
  agents: { default: '1000' },
  duration: { default: '30' },
  'event-interval': { default: '1' },
  'activity-frames': { default: '1' },
  // 1: the console keeps its state in a throwaway PostgreSQL cluster (--database) instead of SQLite.
  postgres: { default: '0' },
});
const limit = openFileLimit();
const tooMany = agentLimitProblem(Number(args.agents), limit);
if (tooMany) {
  log(tooMany);
  process.exit(2);
}
if (limit) log(`open-file limit ${limit.soft}: up to ${agentsThatFit(limit)} agents fit`);
const dist = fileURLToPath(new URL('..', import.meta.url));
const cli = join(dist, 'src/cli/main.js');
const dataDir = mkdtempSync(join(tmpdir(), 'vigil-bench-'));
const password = 'bench-admin-password-0001';
const token = 'bench-enroll-token-0123456789';

const port = await new Promise<number>((resolve) => {
  const s = createServer();
  s.listen(0, '127.0.0.1', () => {
    const p = (s.address() as { port: number }).port;
    s.close(() => resolve(p));
  });
});

const cluster = args.postgres === '1' ? await startPostgresCluster() : null;
const database = cluster ? ['--database', await cluster.createDatabase()] : [];
const consoleProc = spawn(process.execPath, [cli, 'console', '--data-dir', dataDir, '--port', String(port), ...database], {
  env: { ...process.env, VIGIL_ADMIN_PASSWORD: password, VIGIL_ENROLL_TOKEN: token, VIGIL_LOG_LEVEL: 'error' },
  stdio: ['ignore', 'pipe', 'inherit'],
});
// However the benchmark ends (an error included), the console and simulator it started end too.
process.on('exit', () => {
  for (const child of [consoleProc, sim]) if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
  cluster?.stopSync();
});
let sim: ReturnType<typeof spawn> | null = null;
const url = await new Promise<string>((resolve, reject) => {
  const rl = createInterface({ input: consoleProc.stdout! });
  rl.on('line', (line) => {
    const m = /listening on (\S+)/.exec(line);
    if (m) resolve(m[1]!);
  });
  consoleProc.once('exit', (code) => reject(new Error(`console exited (${code})`)));
});
consoleProc.stdout!.resume();
log(`console at ${url} (pid ${consoleProc.pid}); starting ${args.agents} simulated agents`);

const login = await fetch(`${url}/api/v1/login`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ username: 'admin', password }),
});
const { token: session } = (await login.json()) as { token: string };

sim = spawn(
  process.execPath,
  [
    join(dist, 'bench/fleet-sim.js'),
    '--url',
    url,
    '--token',
    token,
    '--agents',
    args.agents,
    '--duration',
    args.duration,
    '--event-interval',
    args['event-interval'],
    '--activity-frames',
    args['activity-frames'],
  ],
  { stdio: ['pipe', 'pipe', 'inherit'] },
);
// A dashboard: one live feed subscriber, measuring how long each activity frame takes to arrive.
const dashboard = await watchDashboard(url, session);
let result: any = null;
let cpuAtStart = 0;
let measureStartedAt = 0;
let peakRss = 0;
let rssSampler: NodeJS.Timeout | null = null;
const simDone = new Promise<void>((resolve, reject) => {
  sim.once('exit', (code, signal) => {
    if (!result) reject(new Error(`the fleet simulator stopped (${signal ?? `exit ${code}`}) before it finished; its error is above`));
  });
  createInterface({ input: sim.stdout! }).on('line', async (line) => {
    const message = JSON.parse(line);
    log(line);
    if (message.phase === 'measuring') {
      dashboard.measuring = true;
      cpuAtStart = cpuSeconds(consoleProc.pid!);
      measureStartedAt = performance.now();
      rssSampler = setInterval(() => (peakRss = Math.max(peakRss, rssMb(consoleProc.pid!))), 500);
      // Midway, publish a policy and time how long it takes to reach every agent.
      setTimeout(
        async () => {
          const at = Date.now();
          const res = await fetch(`${url}/api/v1/policies`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${session}` },
            body: JSON.stringify({ policy: { format: 'vigil-policy/1', name: 'bench push', agent: { heartbeatSeconds: 30, statusSeconds: 60 } } }),
          });
          const { version } = (await res.json()) as { version: number };
          sim.stdin!.write(`${JSON.stringify({ version, at })}\n`);
        },
        (Number(args.duration) * 1000) / 2,
      );
    }
    if (message.phase === 'done') {
      dashboard.measuring = false;
      result = message;
      resolve();
    }
  });
});
await simDone;
const cpuPct = ((cpuSeconds(consoleProc.pid!) - cpuAtStart) / ((performance.now() - measureStartedAt) / 1000)) * 100;
if (rssSampler) clearInterval(rssSampler);
const finalRss = rssMb(consoleProc.pid!);
await new Promise((r) => sim.once('exit', r));
dashboard.close();
const dashboardLatencies = dashboard.latencies.sort((a, b) => a - b);
consoleProc.kill('SIGTERM');
await new Promise((r) => consoleProc.once('exit', r));
rmSync(dataDir, { recursive: true, force: true });

const figures = {
  bench: 'console',
  store: cluster ? 'postgres' : 'sqlite',
  agents: result.connected,
  agentsConnectedAtEnd: result.stillConnected,
  eventsPerSec: round(result.acked / result.elapsedS, 1),
  p50Ms: round(result.p50Ms),
  p99Ms: round(result.p99Ms),
  rssMb: round(Math.max(peakRss, finalRss), 1),
  cpuPct: round(cpuPct, 1),
  pushAllMs: result.pushAllMs,
  pushReached: result.pushReached,
  dashboardP50Ms: round(percentile(dashboardLatencies, 50)),
  dashboardP99Ms: round(percentile(dashboardLatencies, 99)),
  dashboardUpdates: dashboardLatencies.length,
  durationS: Number(args.duration),
  eventIntervalS: Number(args['event-interval']),
  activityFrames: args['activity-frames'] !== '0',
  node: process.versions.node,
};
console.log(JSON.stringify(figures));
