import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { benchArgs, countBy, niceSimulator, percentile, round, SIMULATOR_NICE_ARG } from './args.js';
import { watchDashboard } from './dashboard-watch.js';
import { openFileLimit } from './open-files.js';
import { rssMb } from './proc-stats.js';
import type { AgentLinkStats } from '../src/console/agent-link/stats.js';

/**
 * `npm run bench:policy [-- --agents 10000 --rules 100000 --sets 3 --processes 4 --verifiers 100 --verifier-processes 2]`
 * A real console (bench/policy-console.ts: startConsole, with this benchmark placing devices in
 * `--sets` group sets and publishing through the console's PolicyDistribution, as the policy
 * plane will), `--processes` fleet simulators (bench/policy-fleet.ts) sharing `--agents`
 * simulated agents, and a dashboard feed subscriber timing live activity frames. Publishes a
 * `--rules` policy to every group set, waits until every agent holds its set's bundle, then
 * changes one rule and waits again. The last line is one JSON object with the figures.
 */
const say = (message: string) => process.stderr.write(`[bench:policy] ${message}\n`);
const fail = (error: unknown) => {
  say(`failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
};
process.on('uncaughtException', fail);
process.on('unhandledRejection', fail);

const args = benchArgs({
  agents: { default: '10000' },
  rules: { default: '100000' },
  sets: { default: '3' },
  processes: { default: '4' },
  verifiers: { default: '100' },
  'verifier-processes': { default: String(availableParallelism()) },
  /** A directory: the console and each simulator write a V8 CPU profile there (`--cpu-prof`), to see where a rollout's time goes. */
  profile: { default: '' },
  /** 1: the console prints each step of a publication, with its start and length, beside its stalls. */
  'trace-steps': { default: '0' },
  // The system under test here: the console (and the dashboard subscriber, in this process).
  ...SIMULATOR_NICE_ARG,
});
const agents = Number(args.agents);
const processes = Number(args.processes);
const limit = openFileLimit();
// The console holds one socket per agent plus the fetches in flight; each simulator its share.
if (limit && agents + 64 * processes + 200 > limit.soft) fail(new Error(`${agents} agents need more than the open-file limit ${limit.soft} in the console`));
const dist = fileURLToPath(new URL('..', import.meta.url));
const dataDir = mkdtempSync(join(tmpdir(), 'vigil-policy-bench-'));
const password = 'bench-admin-password-0001';
const token = 'bench-enroll-token-0123456789';
const children: ChildProcess[] = [];
process.on('exit', () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

/** JSON lines from a child, awaited one at a time by a predicate. */
function lines(child: ChildProcess, name: string) {
  const queue: any[] = [];
  const waiters: (() => void)[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      queue.push(JSON.parse(line));
    } catch {
      queue.push({ text: line });
    }
    waiters.splice(0).forEach((w) => w());
  });
  child.once('exit', (code, signal) => fail(new Error(`${name} stopped (${signal ?? `exit ${code}`})`)));
  return async (match: (m: any) => boolean): Promise<any> => {
    for (;;) {
      const i = queue.findIndex(match);
      if (i >= 0) return queue.splice(i, 1)[0];
      await new Promise<void>((r) => waiters.push(r));
    }
  };
}

const profiling = args.profile ? ['--cpu-prof', `--cpu-prof-dir=${args.profile}`] : [];
const consoleProc = spawn(
  process.execPath,
  ['--max-old-space-size=4096', ...profiling, join(dist, 'bench/policy-console.js'), '--sets', args.sets, '--trace-steps', args['trace-steps']],
  {
    env: { ...process.env, VIGIL_BENCH_DATA_DIR: dataDir, VIGIL_ADMIN_PASSWORD: password, VIGIL_ENROLL_TOKEN: token },
    stdio: ['pipe', 'pipe', 'inherit'],
  },
);
children.push(consoleProc);
const fromConsole = lines(consoleProc, 'the console');
const url = /listening on (\S+)/.exec((await fromConsole((m) => typeof m.text === 'string' && m.text.startsWith('listening'))).text)![1]!;
say(`console at ${url} (pid ${consoleProc.pid}); enrolling ${agents} agents in ${processes} simulator processes`);

const login = await fetch(`${url}/api/v1/login`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ username: 'admin', password }),
});
const { token: session } = (await login.json()) as { token: string };

// The agents that verify in full get simulator processes of their own: their CPU-bound checks
// (a real agent does them on its own device) must not hold up the digest-checking agents' I/O.
// Real devices check side by side; `--verifier-processes` (default: one per core) lets the
// simulated ones do so too, rather than one after another on one thread.
const verifierCount = Math.min(Number(args.verifiers), agents);
const verifierProcesses = Math.max(1, Math.min(Number(args['verifier-processes']), verifierCount));
const split = (total: number, parts: number, i: number) => Math.floor(total / parts) + (i < total % parts ? 1 : 0);
const shares = [
  ...Array.from({ length: processes }, (_, i) => ({ agents: split(agents - verifierCount, processes, i), verifiers: 0 })),
  ...Array.from({ length: verifierProcesses }, (_, i) => ({
    agents: split(verifierCount, verifierProcesses, i),
    verifiers: split(verifierCount, verifierProcesses, i),
  })),
].filter((s) => s.agents > 0);
const sims = shares.map((share, i) => {
  const child = spawn(
    process.execPath,
    [
      '--max-old-space-size=4096',
      ...(args.profile ? ['--cpu-prof', `--cpu-prof-dir=${args.profile}`, `--cpu-prof-name=simulator-${i}.cpuprofile`] : []),
      join(dist, 'bench/policy-fleet.js'),
      '--url',
      url,
      '--token',
      token,
      '--agents',
      String(share.agents),
      '--verifiers',
      String(share.verifiers),
      '--shard',
      String(i),
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  children.push(child);
  niceSimulator(child.pid!, args);
  return { child, next: lines(child, `simulator ${i}`) };
});
const connected = (await Promise.all(sims.map((s) => s.next((m) => m.phase === 'connected')))).reduce((n, m) => n + m.agents, 0);
say(`${connected} agents connected`);

const dashboard = await watchDashboard(url, session);
let peakRss = 0;
const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, rssMb(consoleProc.pid!))), 500);

interface Report {
  versions: { version: number; took: ({ at: number; via: string } | null)[] }[];
  bytes: number[];
  failures: number;
  /** Fetches tried again after their connection failed (cumulative). */
  retries: number;
  verifiers: number;
  connected: number;
  lastProblem: string | null;
}
async function report(versions: number[]): Promise<Report[]> {
  for (const s of sims) s.child.stdin!.write(`${JSON.stringify({ report: versions })}\n`);
  return Promise.all(sims.map((s) => s.next((m) => m.phase === 'report')));
}

/**
 * Updates over a second late, by the second of the rollout they were sent in:
 * [second, count, worst ms, first and last second they arrived in].
 */
function lateBySecond(late: readonly { sent: number; ms: number }[], from: number): number[][] {
  const seconds = new Map<number, number[]>();
  for (const { sent, ms } of late) {
    const second = Math.floor((sent - from) / 1000);
    const arrived = Math.floor((sent + ms - from) / 1000);
    const [count, worst, first, last] = seconds.get(second) ?? [0, 0, arrived, arrived];
    seconds.set(second, [count! + 1, Math.max(worst!, ms), Math.min(first!, arrived), Math.max(last!, arrived)]);
  }
  return [...seconds].map(([second, figures]) => [second, ...figures]).sort((a, b) => a[0]! - b[0]!);
}

/** Publishes, then waits until every agent took its set's new version; times from the publish command. */
async function rollout(command: object, label: string) {
  const at = Date.now();
  dashboard.latencies.length = 0;
  dashboard.sentAt.length = 0;
  dashboard.late.length = 0;
  dashboard.measuring = true;
  consoleProc.stdin!.write(`${JSON.stringify(command)}\n`);
  const published = await fromConsole((m) => Array.isArray(m.published));
  const versions = [...new Set<number>(published.published.map((p: { version: number }) => p.version))];
  say(`${label}: published ${JSON.stringify(published.published)} (prepare ${published.prepareMs} ms, commit ${published.commitMs} ms)`);
  for (;;) {
    await new Promise((r) => setTimeout(r, 1000));
    const reports = await report(versions);
    const took = reports.flatMap((r) => r.versions.map((v) => v.took).reduce((a, b) => a.map((x, i) => x ?? b[i]!)));
    const done = took.filter(Boolean).length;
    const failures = reports.reduce((n, r) => n + r.failures, 0);
    const retries = reports.reduce((n, r) => n + r.retries, 0);
    if (done === connected || Date.now() - at > 900_000) {
      dashboard.measuring = false;
      const times = took
        .filter((t): t is { at: number; via: string } => t !== null)
        .map((t) => t.at - at)
        .sort((a, b) => a - b);
      const msOf = (verifying: boolean) =>
        reports
          .filter((r) => r.verifiers > 0 === verifying)
          .flatMap((r) => r.versions.map((v) => v.took).reduce((a, b) => a.map((x, i) => x ?? b[i]!)))
          .map((t) => (t ? t.at - at : Infinity))
          .sort((a, b) => a - b);
      const digestOnly = msOf(false);
      const verifying = msOf(true);
      return {
        reports,
        published,
        done,
        failures,
        retries,
        digestOnlyAllMs: digestOnly.at(-1)!,
        // When the fully verifying agents took it: first, median, last.
        verifyingMs: verifying.length > 0 ? [verifying[0]!, verifying[verifying.length >> 1]!, verifying.at(-1)!] : [],
        allMs: done === connected ? times.at(-1)! : null,
        p99Ms: percentile(times, 99),
        dashboard: [...dashboard.latencies].sort((a, b) => a - b),
        // Updates over a second late, by the second of the rollout they were sent in: [second, count, worst ms].
        dashboardLate: lateBySecond(dashboard.late, at),
        // By the sending agents' kind: `bench` (digest-checking) or `bench-verifier`.
        dashboardLateByApp: countBy(dashboard.late, (l) => l.app),
        // By the policy version the late summary carried: one published when its device acked the new version, or before.
        dashboardLateByPolicyVersion: countBy(dashboard.late, (l) => String(l.policyVersion)),
        via: took.map((t) => t?.via),
      };
    }
    const problem = reports.find((r) => r.lastProblem)?.lastProblem;
    say(
      `${label}: ${done}/${connected} agents hold it after ${Math.round((Date.now() - at) / 1000)} s (${failures} failed fetches, ${retries} tried again${problem ? `; last problem: ${problem}` : ''})`,
    );
  }
}

const before = await report([]);
const full = await rollout({ rules: Number(args.rules) }, 'full');
const bytesAfterFull = full.reports.flatMap((r) => r.bytes);
const delta = await rollout({ changeOne: true }, 'one-rule change');
const bytesAfterDelta = delta.reports.flatMap((r) => r.bytes);
const bytesBefore = before.flatMap((r) => r.bytes);
consoleProc.stdin!.write(`${JSON.stringify({ linkStats: true })}\n`);
const linkAtEnd = (await fromConsole((m) => m.linkStats !== undefined && m.published === undefined)).linkStats as AgentLinkStats;
/** What the agent endpoint did from one moment to another: sign-ins (reconnects after the first) and connections dropped for a missed pong. */
const linkBetween = (from: AgentLinkStats, to: AgentLinkStats) => ({
  authenticated: to.authenticated - from.authenticated,
  missedPongs: to.missedPongs - from.missedPongs,
});
clearInterval(rssTimer);
peakRss = Math.max(peakRss, rssMb(consoleProc.pid!));
dashboard.close();

const sets = full.published.published as { size: number; compressedSize: number }[];
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const fullBytes = bytesAfterFull.map((b, i) => b - bytesBefore[i]!);
const deltaBytes = bytesAfterDelta.map((b, i) => b - bytesAfterFull[i]!);
say(
  JSON.stringify({
    sets: sets.length,
    verifiers: before.reduce((n, r) => n + r.verifiers, 0),
    fullFailures: full.failures,
    deltaFailures: delta.failures - full.failures,
    // Fetches tried again after their connection failed (the simulator's pool; counted, never silent).
    fullRetries: full.retries - before.reduce((n, r) => n + r.retries, 0),
    deltaRetries: delta.retries - full.retries,
    deltaViaDelta: delta.via.filter((v) => v === 'delta').length,
    fullBytesMaxPerAgent: Math.max(...fullBytes),
    deltaBytesMaxPerAgent: Math.max(...deltaBytes),
    dashboardUpdatesDuringRollout: full.dashboard.length,
    dashboardLateDuringRollout: full.dashboardLate,
    dashboardLateByApp: full.dashboardLateByApp,
    dashboardLateByPolicyVersion: full.dashboardLateByPolicyVersion,
    dashboardSentBeforeWatching: dashboard.sentBeforeOpenLate,
    deltaP99Ms: delta.p99Ms,
    fullAllMsDigestCheckingAgents: full.digestOnlyAllMs,
    deltaAllMsDigestCheckingAgents: delta.digestOnlyAllMs,
    deltaVerifyingAgentsMs: delta.verifyingMs,
    stillConnected: delta.reports.reduce((n, r) => n + r.connected, 0),
    linkDuringFull: linkBetween(full.published.linkStats, delta.published.linkStats),
    linkDuringDelta: linkBetween(delta.published.linkStats, linkAtEnd),
    fullPublish: { prepareMs: full.published.prepareMs, commitMs: full.published.commitMs },
    deltaPublish: { prepareMs: delta.published.prepareMs, commitMs: delta.published.commitMs },
  }),
);
console.log(
  JSON.stringify({
    bench: 'policy',
    agents: connected,
    rules: Number(args.rules),
    bundleBytes: Math.max(...sets.map((s) => s.size)),
    compressedBundleBytes: Math.max(...sets.map((s) => s.compressedSize)),
    fullAllMs: full.allMs,
    fullP99Ms: full.p99Ms,
    fullBytesPerAgent: Math.round(mean(fullBytes)),
    dashboardP99MsDuringRollout: percentile(full.dashboard, 99),
    deltaAllMs: delta.allMs,
    deltaBytesPerAgent: Math.round(mean(deltaBytes)),
    consoleRssMb: round(peakRss, 1),
  }),
);
if (profiling.length > 0) {
  // A V8 profile is written when the process exits by itself, not when it is killed.
  const all = [consoleProc, ...sims.map((s) => s.child)];
  const exited = all.map((child) => {
    child.removeAllListeners('exit');
    return new Promise((resolve) => child.once('exit', resolve));
  });
  for (const child of all) child.stdin!.write(`${JSON.stringify({ exit: true })}\n`);
  await Promise.all(exited);
}
process.exit(0);
