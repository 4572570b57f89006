import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, copyFileSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { benchArgs, percentile, round } from './args.js';
import { execGateUnavailable, execProgram, killAllGates, mountPrivateTmpfs, sha256File, startGate, type PrivateMount } from './exec-fixture.js';
import { cpuSeconds } from './proc-stats.js';
import { fallbackKillTimes, startFapolicyd } from './exec-bench-extras.js';

/**
 * `npm run bench:exec [-- --execs N --rules N --big-mb N --rounds N]` (Linux, root)
 * A spawn-heavy workload (a shell starting a small binary N times) on two private tmpfs mounts:
 * one unmarked (no gate) and one marked by Vigil's gate in enforce mode holding an allowlist of
 * `rules` SHA-256 entries (the binary's among them). Rounds alternate between the two so
 * machine noise hits both; medians are compared. Then a `big-mb` binary is executed once to
 * time first-sight hashing, and again to time the cached path. Then the fallback watcher kills
 * `kills` unapproved programs started by nobody (proc connector, then /proc polling), and, when
 * Debian's fapolicyd is installed, it runs in permissive mode on the same workload (and is
 * stopped and its configuration restored afterwards).
 * The last line printed is one JSON object with the figures.
 */
const args = benchArgs({
  execs: { default: '2000' },
  rules: { default: '10000' },
  'big-mb': { default: '100' },
  rounds: { default: '5' },
  kills: { default: '200' },
  'fapolicyd-rounds': { default: '3' },
});
const execs = Number(args.execs);
const bigMb = Number(args['big-mb']);
const log = (message: string) => process.stderr.write(`[bench:exec] ${message}\n`);

const unavailable = execGateUnavailable();
if (unavailable) {
  process.stderr.write(`bench:exec cannot run: ${unavailable}\n`);
  process.exit(1);
}

const mounts: PrivateMount[] = [];
let fapolicyd: { stop(): Promise<void> } | null = null;
const cleanup = async () => {
  await fapolicyd?.stop();
  fapolicyd = null;
  await killAllGates();
  mounts.forEach((m) => m.unmount());
};
process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));
process.once('SIGTERM', () => void cleanup().then(() => process.exit(143)));

/** One shell that starts `binary` N times: fork + exec cost, little else. */
function workload(binary: string): number {
  const started = performance.now();
  const result = spawnSync('/bin/sh', ['-c', `i=0; while [ $i -lt ${execs} ]; do "$0" || exit 1; i=$((i+1)); done`, binary], {
    stdio: 'ignore',
    timeout: 600_000,
  });
  if (result.status !== 0) throw new Error(`workload on ${binary} failed (exit ${result.status}, ${result.error?.message ?? ''})`);
  return performance.now() - started;
}

function place(dir: string, name: string): string {
  const path = join(dir, name);
  copyFileSync('/usr/bin/true', path);
  chmodSync(path, 0o755);
  return path;
}

/** /usr/bin/true followed by random bytes up to `mb`: still a valid ELF, with a unique hash. */
function bigBinary(dir: string, mb: number): string {
  const path = place(dir, 'big');
  const fd = openSync(path, 'a');
  const chunk = 1 << 20;
  for (let written = 0; written < mb * chunk; written += chunk) writeSync(fd, randomBytes(chunk));
  closeSync(fd);
  return path;
}

try {
  const plain = mountPrivateTmpfs(16);
  mounts.push(plain);
  const gated = mountPrivateTmpfs(bigMb + 32);
  mounts.push(gated);
  const plainBin = place(plain.path, 'tool');
  const gatedBin = place(gated.path, 'tool');
  const big = bigBinary(gated.path, bigMb);

  const allow = Array.from({ length: Math.max(0, Number(args.rules) - 2) }, () => randomBytes(32).toString('hex'));
  allow.push(sha256File(gatedBin), sha256File(big));
  const rulesFile = join(gated.path, 'rules.json');
  writeFileSync(rulesFile, JSON.stringify({ format: 'vigil-exec-rules/1', mode: 'enforce', defaultAction: 'deny', allowSha256: allow }));

  // A long deadline so a 100 MB first sight is decided by the policy, not by the timeout.
  const gate = await startGate(['--mark', gated.path, '--rules', rulesFile, '--deadline-ms', '30000', '--on-timeout', 'deny', '--quiet-cached']);
  log(`gate pid ${gate.child.pid} holding ${allow.length} hash rules; ${args.rounds} rounds of ${execs} execs`);

  // A file changed in the last 2 s is never cached (its ctime could hide a same-tick rewrite), so
  // let the fresh copy age first; first sight then warms the cache and the workload measures the
  // steady state of an installed program.
  await new Promise((r) => setTimeout(r, 2600));
  if (execProgram(gatedBin).code !== 0) throw new Error('the allowed binary was refused');
  workload(plainBin);

  const base: number[] = [];
  const withGate: number[] = [];
  let gateCpu = 0;
  for (let round = 0; round < Number(args.rounds); round++) {
    base.push(workload(plainBin));
    const cpuBefore = cpuSeconds(gate.child.pid!);
    withGate.push(workload(gatedBin));
    gateCpu += cpuSeconds(gate.child.pid!) - cpuBefore;
    log(`round ${round + 1}: no gate ${base.at(-1)!.toFixed(0)} ms, gate ${withGate.at(-1)!.toFixed(0)} ms`);
  }
  const median = (xs: number[]) =>
    percentile(
      [...xs].sort((a, b) => a - b),
      50,
    )!;
  const baseMs = median(base);
  const gateMs = median(withGate);

  const firstRun = execProgram(big, 60_000);
  const first = await gate.waitFor('exec', (r) => r.path === big && !r.cached, 60_000);
  if (firstRun.code !== 0 || first.verdict !== 'allow') throw new Error(`the ${bigMb} MB binary was refused: ${JSON.stringify(first)}`);
  const cachedRun = execProgram(big);
  log(
    `${bigMb} MB binary: first sight ${first.decideMs.toFixed(1)} ms to hash and decide (exec ${firstRun.ms.toFixed(1)} ms), cached exec ${cachedRun.ms.toFixed(1)} ms`,
  );

  gate.child.kill('SIGUSR1');
  const { stats } = await gate.waitFor('stats');
  await gate.kill();

  // The fallback watcher: launch-to-termination of unapproved programs started by nobody.
  const kills = Number(args.kills);
  const connector = await fallbackKillTimes(plain.path, 'proc-connector', kills, log);
  const poll = await fallbackKillTimes(plain.path, 'proc-poll', Math.max(10, Math.round(kills / 4)), log);

  // fapolicyd (permissive) on the same workload, bracketed by baseline rounds.
  let fapolicydRatio: number | null = null;
  let fapolicydMs: number | null = null;
  let fapolicydNote = 'fapolicyd is not installed (apt-get install fapolicyd)';
  fapolicyd = await startFapolicyd(log);
  if (fapolicyd) {
    const withFapolicyd: number[] = [];
    for (let round = 0; round < Number(args['fapolicyd-rounds']); round++) {
      withFapolicyd.push(workload(plainBin));
      log(`fapolicyd round ${round + 1}: ${withFapolicyd.at(-1)!.toFixed(0)} ms`);
    }
    await fapolicyd.stop();
    fapolicyd = null;
    const after = [workload(plainBin), workload(plainBin)];
    const baseAround = median([...base, ...after]);
    fapolicydMs = median(withFapolicyd);
    fapolicydRatio = fapolicydMs / baseAround;
    fapolicydNote = "fapolicyd --debug-deny, permissive = 1, Debian's rules.d, run as root; ratio against the no-gate rounds";
  }
  const totalGated = execs * Number(args.rounds);
  console.log(
    JSON.stringify({
      bench: 'exec',
      execs,
      rounds: Number(args.rounds),
      rules: allow.length,
      baselineMs: round(baseMs, 1),
      gatedMs: round(gateMs, 1),
      gateRatio: round(gateMs / baseMs, 3),
      overheadUsPerExec: round(((gateMs - baseMs) / execs) * 1000, 1),
      gateCpuUsPerExec: round((gateCpu / totalGated) * 1e6, 1),
      firstSightMs: round(first.decideMs, 1),
      firstSightExecMs: round(firstRun.ms, 1),
      cachedBigExecMs: round(cachedRun.ms, 2),
      bigMb,
      timedOut: stats.timedOut ?? null,
      fapolicydRatio: round(fapolicydRatio, 3),
      fapolicydMs: round(fapolicydMs, 1),
      killP50Ms: connector.p50,
      killP99Ms: connector.p99,
      killLauncherP50Ms: connector.launcherP50,
      pollKillP50Ms: poll.p50,
      pollKillP99Ms: poll.p99,
      watcherIdleCpuPct: connector.idleCpuPct,
      pollIdleCpuPct: poll.idleCpuPct,
      kills,
      note: `kill*: fallback watcher (proc connector; poll* with /proc polling every 25 ms), ms from exec to SIGKILL of a program nobody started. ${fapolicydNote}`,
      node: process.versions.node,
    }),
  );
} finally {
  await cleanup();
}
