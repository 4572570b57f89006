import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { consoleKeyPath } from '../src/console/identity.js';
import { publicKeyFromPrivatePem } from '../src/shared/node/crypto.js';
import { benchArgs, benchLog, countBy, niceSimulator, percentile, round, SIMULATOR_NICE_ARG } from './args.js';
import { watchDashboard } from './dashboard-watch.js';
import { startNatsServer } from './bus-servers.js';
import { freePort } from './free-port.js';
import { startHaproxy, type RunningHaproxy } from './haproxy.js';
import { FILES_PER_PROCESS, openFileLimit } from './open-files.js';
import { startPostgresCluster } from './postgres-cluster.js';
import { cpuCensus } from './cpu-census.js';
import { cpuSeconds, rssMb } from './proc-stats.js';

/**
 * `npm run bench:cluster [-- --agents 40000 --consoles 4 --proxies 0 --simulators 0 --duration 120 --event-interval 30 --enroll-http 0 --connect-rate 300]`
 * Several console processes on one throwaway PostgreSQL cluster and one NATS server (--bus), HAProxy instances in front (each
 * on its own 127.0.0.x address, the documented configuration: bench/haproxy.ts), and fleet
 * simulators (bench/cluster-fleet.ts) whose agents connect through the balancers. Each agent sends
 * an activity span event and a live activity frame every --event-interval seconds. A dashboard
 * feed subscriber on the first console times live frames; a third of the way in a policy is
 * published through the first console; two thirds of the way in the last console is killed with
 * SIGKILL. At the end every simulator drains (resending what was not acknowledged, as the outbox
 * does) and PostgreSQL is asked what it holds. The last line is one JSON object with the figures.
 */
// Whatever goes wrong is said in one plain line, with its cause, and the exit status says it failed.
const { log, fail } = benchLog('cluster');

const args = benchArgs({
  agents: { default: '40000' },
  consoles: { default: '4' },
  // 0: as many as the fleet needs (9,000 connections each, under the 20,000-file limit).
  proxies: { default: '0' },
  // 0: one per 10,000 agents.
  simulators: { default: '0' },
  duration: { default: '120' },
  'event-interval': { default: '30' },
  // 1: every agent enrolls through HTTP (a signed request each: minutes per few thousand on a
  // busy machine); 0: the simulators write the device rows into the database as enrollment does.
  'enroll-http': { default: '0' },
  // 1: each console runs with --cpu-prof, its profile written into the bench's directory named on
  // stderr (the killed one writes none).
  profile: { default: '0' },
  // Agents started a second across all simulators (a fleet's agents start over minutes; 0: as
  // fast as the simulators can open sockets).
  'connect-rate': { default: '300' },
  // The simulated agents' longest wait between reconnect attempts (ms); the agent's own is 60000.
  'backoff-max': { default: '5000' },
  // The system under test here: consoles, PostgreSQL, NATS, HAProxy. The simulators' CPU is still counted (`cpuPctByPart`).
  ...SIMULATOR_NICE_ARG,
});
const agents = Number(args.agents);
const consoles = Number(args.consoles);
const PER_PROXY = 9000;
const PER_SIMULATOR = 10_000;
const proxies = Number(args.proxies) || Math.max(1, Math.ceil(agents / PER_PROXY));
const simulators = Number(args.simulators) || Math.max(1, Math.ceil(agents / PER_SIMULATOR));
const durationMs = Number(args.duration) * 1000;
if (consoles < 2) fail(new Error('--consoles must be at least 2 (one is killed)'));
// Every process here runs under this limit: after the kill, the surviving consoles share the fleet.
const limit = openFileLimit();
const need = {
  'a surviving console': Math.ceil(agents / (consoles - 1)),
  'an HAProxy instance (two per connection)': Math.ceil(agents / proxies) * 2,
  'a simulator': Math.ceil(agents / simulators),
};
for (const [who, files] of Object.entries(need)) {
  if (limit && files + FILES_PER_PROCESS > limit.soft)
    fail(new Error(`${agents} agents need ${files} open files in ${who}, over this machine's limit of ${limit.soft}: add consoles, proxies or simulators`));
}

const dist = fileURLToPath(new URL('..', import.meta.url));
const cli = join(dist, 'src/cli/main.js');
const work = mkdtempSync(join(tmpdir(), 'vigil-cluster-bench-'));
const password = 'bench-admin-password-0001';
const token = 'bench-enroll-token-0123456789';
const children: ChildProcess[] = [];
const profiles = join(tmpdir(), `vigil-cluster-profiles-${process.pid}`);
const balancers: RunningHaproxy[] = [];
const pgCluster = await startPostgresCluster({ settings: { shared_buffers: '256MB' } });
const nats = await startNatsServer();
process.on('exit', () => {
  void nats.stop();
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const b of balancers) b.stopSync();
  pgCluster.stopSync();
  rmSync(work, { recursive: true, force: true });
});
const database = await pgCluster.createDatabase();

interface ConsoleProc {
  proc: ChildProcess;
  url: string;
  port: number;
  peakRss: number;
  cpuStart: number;
}
async function startConsoleProc(i: number): Promise<ConsoleProc> {
  const dataDir = join(work, `console${i}`);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  if (i > 0) copyFileSync(consoleKeyPath(join(work, 'console0')), consoleKeyPath(dataDir));
  const port = await freePort();
  const proc = spawn(
    process.execPath,
    [
      ...(args.profile === '1' ? ['--cpu-prof', '--cpu-prof-dir', profiles] : []),
      cli,
      'console',
      '--data-dir',
      dataDir,
      '--port',
      String(port),
      '--database',
      database,
      '--bus',
      nats.url,
      '--trust-proxy',
      '127.0.0.1',
    ],
    {
      env: {
        ...process.env,
        VIGIL_ADMIN_PASSWORD: password,
        VIGIL_ENROLL_TOKEN: token,
        VIGIL_LOG_LEVEL: 'error',
        // Every simulated agent connects from 127.0.0.1; a real fleet comes from thousands of addresses.
        VIGIL_PENDING_PER_ADDRESS: '20000',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  children.push(proc);
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      const m = /listening on (\S+)/.exec(line);
      if (m) resolve(m[1]!);
    });
    proc.once('exit', (code) => reject(new Error(`console ${i} exited (${code}) before listening`)));
  });
  return { proc, url, port, peakRss: 0, cpuStart: 0 };
}
const fleetConsoles: ConsoleProc[] = [];
for (let i = 0; i < consoles; i++) fleetConsoles.push(await startConsoleProc(i));
for (let i = 0; i < proxies; i++) {
  balancers.push(
    await startHaproxy({
      host: `127.0.0.${2 + i}`,
      servers: fleetConsoles.map((c, j) => ({ name: `console${j}`, address: `127.0.0.1:${c.port}` })),
      maxconn: 9900,
    }),
  );
}
log(`${consoles} consoles, ${proxies} HAProxy instances (${balancers.map((b) => b.url).join(' ')}), ${simulators} simulators, ${agents} agents`);

const first = fleetConsoles[0]!;
const login = await fetch(`${first.url}/api/v1/login`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ username: 'admin', password }),
});
const { token: session } = (await login.json()) as { token: string };
const consoleKey = publicKeyFromPrivatePem(readFileSync(consoleKeyPath(join(work, 'console0')), 'utf8'));

// Simulators: each takes its share of agents, spread over all balancers.
const sims = Array.from({ length: simulators }, (_, i) => {
  const share = Math.floor(agents / simulators) + (i < agents % simulators ? 1 : 0);
  const proc = spawn(
    process.execPath,
    [
      join(dist, 'bench/cluster-fleet.js'),
      '--urls',
      balancers.map((b) => b.url).join(','),
      '--token',
      token,
      '--agents',
      String(share),
      '--shard',
      String(i),
      '--event-interval',
      args['event-interval'],
      ...(args['enroll-http'] === '1' ? [] : ['--database', database, '--console-key', consoleKey]),
      '--connect-rate',
      String(Math.ceil(Number(args['connect-rate']) / simulators)),
      '--backoff-max',
      args['backoff-max'],
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  children.push(proc);
  niceSimulator(proc.pid!, args);
  const lines: Record<string, any>[] = [];
  const waiters: { phase: string; resolve: (line: Record<string, any>) => void }[] = [];
  createInterface({ input: proc.stdout!, crlfDelay: Infinity }).on('line', (line) => {
    const message = JSON.parse(line) as Record<string, any>;
    lines.push(message);
    if (message.phase !== 'done') log(`simulator ${i}: ${line}`);
    for (const w of waiters.filter((w) => w.phase === message.phase)) w.resolve(message);
  });
  proc.once('exit', (code, signal) => {
    if (!lines.some((l) => l.phase === 'done')) fail(new Error(`simulator ${i} stopped (${signal ?? `exit ${code}`}) before it finished; its error is above`));
  });
  return {
    proc,
    send: (command: object) => proc.stdin!.write(`${JSON.stringify(command)}\n`),
    phase: (phase: string) =>
      new Promise<Record<string, any>>((resolve) => {
        const seen = lines.find((l) => l.phase === phase);
        if (seen) resolve(seen);
        else waiters.push({ phase, resolve });
      }),
  };
});
const startedAt = Date.now();
const connected = await Promise.all(sims.map((s) => s.phase('connected')));
const connectedAgents = connected.reduce((n, c) => n + Number(c.agents), 0);
log(`${connectedAgents} agents connected in ${Math.round((Date.now() - startedAt) / 1000)} s`);

// Let a first round of events settle, then measure.
const dashboard = await watchDashboard(first.url, session);
await new Promise((r) => setTimeout(r, Math.min(Number(args['event-interval']) * 1000, 10_000)));
const held = await Promise.all(fleetConsoles.map((c) => fetch(`${c.url}/healthz`).then((r) => r.json() as Promise<{ devicesOnline: number }>)));
log(`agents per console: ${held.map((h) => h.devicesOnline).join(', ')}`);
for (const c of fleetConsoles) c.cpuStart = cpuSeconds(c.proc.pid!);
const postmaster = Number(readFileSync(join(pgCluster.dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
const census = cpuCensus(() => ({
  consoles: fleetConsoles.map((c) => c.proc.pid!),
  simulators: sims.map((s) => s.proc.pid!),
  haproxy: balancers.map((b) => b.pid),
  postgres: [postmaster],
  nats: [nats.pid],
  bench: [process.pid],
}));
/**
 * What the 30 s after the kill looked like from outside the survivors, sampled each second: how
 * each balancer saw each server (a survivor its checks take out of rotation refuses the very
 * agents it should take) and why its log says it took one out; each survivor's /healthz asked
 * directly, as the checks ask it; its open files (at the per-process limit it can accept nothing);
 * each listening socket's accept queue (`ss`: a listener's Recv-Q is its queue, Send-Q its
 * backlog), and the machine's listen-queue overflows and SYN retransmissions.
 */
function watchFailover(survivors: readonly ConsoleProc[]) {
  const notUp: string[] = [];
  const healthTimes: number[] = [];
  const healthAnswers: string[] = [];
  const mostFiles = new Map<number, number>();
  const fullestQueue = new Map<string, { queued: number; backlog: number }>();
  const netstat = () => {
    const [names, values] = readFileSync('/proc/net/netstat', 'utf8')
      .split('\n')
      .slice(0, 2)
      .map((line) => line.split(' '));
    const counter = (name: string) => Number(values![names!.indexOf(name)]);
    return { listenOverflows: counter('ListenOverflows'), synRetrans: counter('TCPSynRetrans') };
  };
  const netBefore = netstat();
  const timer = setInterval(() => {
    for (const c of survivors) mostFiles.set(c.proc.pid!, Math.max(mostFiles.get(c.proc.pid!) ?? 0, readdirSync(`/proc/${c.proc.pid}/fd`).length));
    execFile('ss', ['-ltnH'], (error, out) => {
      if (error) return;
      for (const line of out.trim().split('\n')) {
        const [, queued, backlog, local] = line.trim().split(/\s+/);
        const seen = fullestQueue.get(local!);
        if (!seen || Number(queued) > seen.queued) fullestQueue.set(local!, { queued: Number(queued), backlog: Number(backlog) });
      }
    });
    for (const c of survivors) {
      const asked = performance.now();
      void fetch(`${c.url}/healthz`, { signal: AbortSignal.timeout(20_000) })
        .then(
          (res) => String(res.status),
          (error: Error) => error.name,
        )
        .then((answer) => {
          healthTimes.push(Math.round(performance.now() - asked));
          healthAnswers.push(answer);
        });
    }
    for (const b of balancers)
      void b
        .serverStates()
        .then((states) => notUp.push(...Object.keys(states).filter((server) => !states[server]!.startsWith('UP'))))
        .catch(() => undefined);
  }, 1000);
  return {
    stop() {
      clearInterval(timer);
      const netAfter = netstat();
      return {
        // Balancer-seconds each server was out of rotation (the killed one should be), and the reasons the balancers' logs give.
        failoverNotUpSeconds: countBy(notUp.sort(), (server) => server),
        serversDownBecause: countBy(
          balancers.flatMap((b) => [...b.log().matchAll(/Server consoles\/(\S+) is DOWN, reason: ([^,]+)/g)].map((m) => `${m[1]}: ${m[2]}`)),
          (line) => line,
        ),
        failoverHealthzMs: spread(healthTimes, 0),
        failoverHealthzAnswers: countBy(healthAnswers, (answer) => answer),
        failoverMostOpenFiles: [...mostFiles.values()],
        failoverListenOverflows: netAfter.listenOverflows - netBefore.listenOverflows,
        failoverSynRetransmits: netAfter.synRetrans - netBefore.synRetrans,
        // address: queued/backlog
        failoverFullestQueues: Object.fromEntries(
          [...fullestQueue]
            .sort((a, b) => b[1].queued - a[1].queued)
            .slice(0, 8)
            .map(([local, q]) => [local, `${q.queued}/${q.backlog}`]),
        ),
      };
    },
  };
}

/** p50, p90, p99 and the last of `times` (ms since the epoch) counted from `from`: where a spread's tail is. */
function spread(times: number[], from: number) {
  const sorted = times.map((t) => t - from).sort((a, b) => a - b);
  return [percentile(sorted, 50), percentile(sorted, 90), percentile(sorted, 99), sorted.at(-1) ?? null];
}

type HubCounters = Record<
  'pingsSent' | 'pingsSkipped' | 'accepted' | 'authenticated' | 'preAuthTimedOut' | 'preAuthEvicted' | 'refusedBusy' | 'lateTurns' | 'worstLateMs',
  number
>;
/** The agents' link counters (agent-link/stats.ts) of these consoles, summed. */
async function hubCounts(consoles = fleetConsoles): Promise<HubCounters> {
  const hubs = await Promise.all(
    consoles.map(async (c) => {
      const res = await fetch(`${c.url}/api/v1/stats`, { headers: { authorization: `Bearer ${session}` } });
      return ((await res.json()) as { hub: Partial<HubCounters> }).hub;
    }),
  );
  const sum = (k: keyof HubCounters) => hubs.reduce((n, h) => n + (h[k] ?? 0), 0);
  return {
    pingsSent: sum('pingsSent'),
    pingsSkipped: sum('pingsSkipped'),
    accepted: sum('accepted'),
    authenticated: sum('authenticated'),
    preAuthTimedOut: sum('preAuthTimedOut'),
    preAuthEvicted: sum('preAuthEvicted'),
    refusedBusy: sum('refusedBusy'),
    lateTurns: sum('lateTurns'),
    worstLateMs: Math.max(0, ...hubs.map((h) => h.worstLateMs ?? 0)),
  };
}
/** Pings the consoles wrote and left out so far (agent-link/keepalive.ts), all consoles together. */
async function pingCounts(): Promise<{ sent: number; skipped: number }> {
  const hub = await hubCounts();
  return { sent: hub.pingsSent, skipped: hub.pingsSkipped };
}
const pingsBefore = await pingCounts();
const loadBefore = loadavg()[0]!;
const measureStart = performance.now();
dashboard.measuring = true;
sims.forEach((s) => s.send({ measure: true }));
const sampler = setInterval(() => {
  for (const c of fleetConsoles) if (c.proc.exitCode === null && c.proc.signalCode === null) c.peakRss = Math.max(c.peakRss, rssMb(c.proc.pid!));
}, 1000);

// A third of the way in: a policy published through the first console. Until then every console
// is in steady state (agents connected, one event and one live frame each per interval, pings):
// its CPU over that third, per 1,000 agents it holds, is the per-agent cost.
await new Promise((r) => setTimeout(r, durationMs / 3));
const steadyS = (performance.now() - measureStart) / 1000;
const steadyCpuPct = fleetConsoles.map((c) => ((cpuSeconds(c.proc.pid!) - c.cpuStart) / steadyS) * 100);
const pingsSteady = await pingCounts();
const pushAt = Date.now();
const published = await fetch(`${first.url}/api/v1/policies`, {
  method: 'POST',
  headers: { 'content-type': 'application/json', authorization: `Bearer ${session}` },
  body: JSON.stringify({ policy: { format: 'vigil-policy/1', name: 'bench push', agent: { heartbeatSeconds: 30, statusSeconds: 60 } } }),
});
const { version } = (await published.json()) as { version: number };
sims.forEach((s) => s.send({ policy: version, at: pushAt }));
log(`policy ${version} published through console 0`);

// Two thirds of the way in: the last console is killed.
await new Promise((r) => setTimeout(r, durationMs / 3));
const victim = fleetConsoles.at(-1)!;
const victimHeld = ((await fetch(`${victim.url}/healthz`).then((r) => r.json())) as { devicesOnline: number }).devicesOnline;
const victimCpu = cpuSeconds(victim.proc.pid!) - victim.cpuStart;
const victimS = (performance.now() - measureStart) / 1000;
const survivors = fleetConsoles.filter((c) => c !== victim);
const survivorsBefore = await hubCounts(survivors);
const killAt = Date.now();
victim.proc.kill('SIGKILL');
const failover = watchFailover(survivors);
sims.forEach((s) => s.send({ kill: killAt }));
log(`killed console ${consoles - 1} (pid ${victim.proc.pid}, holding ${victimHeld} agents)`);

await new Promise((r) => setTimeout(r, durationMs / 3));
const survivorsAfter = await hubCounts(survivors);
const watched = failover.stop();
const measuredS = (performance.now() - measureStart) / 1000;
const cpuPctByPart = census.stop();
const loadAfter = loadavg()[0]!;
dashboard.measuring = false;
clearInterval(sampler);
const cpuPctPerConsole = fleetConsoles.map((c) =>
  round(((c === victim ? victimCpu : cpuSeconds(c.proc.pid!) - c.cpuStart) / (c === victim ? victimS : measuredS)) * 100, 1),
);
sims.forEach((s) => s.send({ stop: true }));
log('stopped generating; draining');
const done = await Promise.all(sims.map((s) => s.phase('done')));
dashboard.close();

const db = new pg.Client({ connectionString: database });
await db.connect();
const stored = (
  await db.query<{ rows: string; distinct: string }>(
    `SELECT COUNT(*) AS rows, COUNT(DISTINCT (device_id, seq)) AS "distinct" FROM events WHERE type = 'activity.spans'`,
  )
).rows[0]!;
await db.end();
const generated = done.reduce((n, d) => n + Number(d.generated), 0);
const latencies = done.flatMap((d) => d.latencies as number[]).sort((a, b) => a - b);
const dashboardLatencies = [...dashboard.latencies].sort((a, b) => a - b);
const pushAll = done.every((d) => d.pushLastAt !== null) ? Math.max(...done.map((d) => d.pushLastAt as number)) - pushAt : null;
const dropped = done.reduce((n, d) => n + Number(d.dropped), 0);
const notBack = done.reduce((n, d) => n + Number(d.notBack), 0);
const lastBack = done.map((d) => d.lastBackAt as number | null).filter((t): t is number => t !== null);
/** The dashboard's p99 over updates sent in [from, to): steady state, after the push, after the kill. */
const dashboardP99Between = (from: number, to: number) =>
  percentile(
    dashboard.latencies.filter((_, i) => dashboard.sentAt[i]! >= from && dashboard.sentAt[i]! < to).sort((a, b) => a - b),
    99,
  );

const figures = {
  bench: 'cluster',
  consoles,
  proxies,
  simulators,
  agents: connectedAgents,
  agentsConnectedAtEnd: done.reduce((n, d) => n + Number(d.stillConnected), 0),
  eventsPerSec: round(done.reduce((n, d) => n + Number(d.ackedMeasured), 0) / measuredS, 1),
  p50Ms: percentile(latencies, 50),
  p99Ms: percentile(latencies, 99),
  dashboardP50Ms: percentile(dashboardLatencies, 50),
  dashboardP99Ms: percentile(dashboardLatencies, 99),
  dashboardUpdates: dashboardLatencies.length,
  dashboardP99MsByThird: [dashboardP99Between(0, pushAt), dashboardP99Between(pushAt, killAt), dashboardP99Between(killAt, Infinity)],
  pushAllMs: pushAll,
  pushReached: done.reduce((n, d) => n + Number(d.pushReached), 0),
  // p50, p90, p99, last: a slow tail or a slow whole.
  pushSpreadMs: spread(
    done.flatMap((d) => d.pushAts as number[]),
    pushAt,
  ),
  rssMbPerConsole: fleetConsoles.map((c) => round(c.peakRss, 1)),
  cpuPctPerConsole,
  // Before the push: percent of a core per console, and all consoles' CPU per 1,000 agents they held.
  steadyCpuPctPerConsole: steadyCpuPct.map((p) => round(p, 1)),
  steadyCpuPctPer1000Agents: round(steadyCpuPct.reduce((a, b) => a + b, 0) / (held.reduce((n, h) => n + h.devicesOnline, 0) / 1000), 2),
  // Pings written and left out per agent per minute in that steady third (one per interval before keepalive visits).
  steadyPingsPerAgentMinute: round((pingsSteady.sent - pingsBefore.sent) / connectedAgents / (steadyS / 60), 2),
  steadyPingsSkippedPerAgentMinute: round((pingsSteady.skipped - pingsBefore.skipped) / connectedAgents / (steadyS / 60), 2),
  // Percent of one core over the measured window, by part; `other` is everything else on the machine.
  cpuPctByPart,
  loadAverage: [round(loadBefore, 1), round(loadAfter, 1)],
  failoverAgents: victimHeld,
  failoverDropped: dropped,
  failoverNotBack: notBack,
  failoverReconnectAllMs: notBack === 0 && lastBack.length ? Math.max(...lastBack) - killAt : null,
  failoverBackSpreadMs: spread(
    done.flatMap((d) => d.backAts as number[]),
    killAt,
  ),
  // What the survivors' agent endpoints did in the last third: connections taken, authenticated, timed out or evicted before authenticating, and turned away while busy.
  failoverSurvivors: Object.fromEntries(
    (['accepted', 'authenticated', 'preAuthTimedOut', 'preAuthEvicted', 'refusedBusy', 'lateTurns'] as const).map((k) => [
      k,
      survivorsAfter[k] - survivorsBefore[k],
    ]),
  ),
  // The worst turn of a survivor's event loop since it started (agent-link/admission.ts).
  failoverWorstLateMs: survivorsAfter.worstLateMs,
  ...watched,
  eventsGenerated: generated,
  eventsStored: Number(stored.rows),
  lostEvents: generated - Number(stored.distinct),
  duplicateEvents: Number(stored.rows) - Number(stored.distinct),
  unackedAtEnd: done.reduce((n, d) => n + Number(d.unacked), 0),
  durationS: Number(args.duration),
  eventIntervalS: Number(args['event-interval']),
  node: process.versions.node,
};
const running = fleetConsoles.filter((c) => c.proc.exitCode === null && c.proc.signalCode === null);
const exited = Promise.all(running.map((c) => new Promise((r) => c.proc.once('exit', r))));
for (const c of running) c.proc.kill('SIGTERM');
if (args.profile === '1') {
  await exited;
  log(`console CPU profiles: ${profiles}`);
}
await Promise.all(balancers.map((b) => b.stop()));
balancers.length = 0;
await nats.stop();
console.log(JSON.stringify(figures));
process.exit(0);
