import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, chmodSync, closeSync, copyFileSync, existsSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { percentile, round } from './args.js';
import { onlyBelow, sha256File, startWatcher } from './exec-fixture.js';
import { cpuSeconds } from './proc-stats.js';

/**
 * The parts of bench:exec beyond the gate itself: the fallback watcher's launch-to-termination
 * times, and fapolicyd (Debian's package) in permissive mode on the same spawn workload.
 */

const NOBODY = 65534;

/**
 * Starts `count` unapproved programs as nobody, one after another, under `vigil exec-watch` in
 * the given mode, and returns the watcher's lifetimes (ms from the exec to the kill) and the
 * launcher's (ms from spawn() to the exit it saw).
 */
export async function fallbackKillTimes(dir: string, mode: 'proc-connector' | 'proc-poll', count: number, log: (m: string) => void) {
  const program = join(dir, `unapproved-${mode}`);
  copyFileSync('/usr/bin/sleep', program);
  appendFileSync(program, Buffer.alloc(32, mode.length)); // a hash no rule allows
  chmodSync(program, 0o755);
  const rules = join(dir, `watch-rules-${mode}.json`);
  writeFileSync(
    rules,
    JSON.stringify({
      format: 'vigil-exec-rules/1',
      mode: 'enforce',
      defaultAction: 'deny',
      allowSha256: [sha256File('/usr/bin/sleep')],
      rules: onlyBelow(dir),
    }),
  );
  const watcher = await startWatcher(['--rules', rules, ...(mode === 'proc-poll' ? ['--watcher', 'proc-poll'] : [])]);
  if (watcher.records[0]?.type !== 'ready' || watcher.records[0].watcher !== mode)
    throw new Error(`the watcher runs ${JSON.stringify(watcher.records[0])}, not ${mode}`);
  const lived: number[] = [];
  const seen: number[] = [];
  // The watcher's own cost while nothing is launched (what a laptop pays all day).
  const idleFrom = cpuSeconds(watcher.child.pid!);
  await new Promise((r) => setTimeout(r, 3000));
  const idleCpuPct = ((cpuSeconds(watcher.child.pid!) - idleFrom) / 3) * 100;
  try {
    for (let i = 0; i < count; i++) {
      const started = performance.now();
      const child: ChildProcess = spawn(program, ['30'], { stdio: 'ignore', uid: NOBODY, gid: NOBODY });
      const signal = await new Promise<NodeJS.Signals | null>((r) => child.once('exit', (_, s) => r(s)));
      seen.push(performance.now() - started);
      if (signal !== 'SIGKILL') throw new Error(`run ${i}: the unapproved program ended with ${signal}, not SIGKILL`);
      const record = await watcher.waitFor('exec', (r) => r.pid === child.pid, 10_000);
      if (record.livedMs === null) throw new Error(`run ${i}: no lifetime reported`);
      lived.push(record.livedMs);
    }
  } finally {
    await watcher.kill();
  }
  const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
  const result = {
    p50: round(percentile(sorted(lived), 50), 2),
    p99: round(percentile(sorted(lived), 99), 2),
    launcherP50: round(percentile(sorted(seen), 50), 2),
    launcherP99: round(percentile(sorted(seen), 99), 2),
    idleCpuPct: round(idleCpuPct, 2),
  };
  log(
    `fallback ${mode}: ${count} unapproved launches killed; lived p50 ${result.p50} ms, p99 ${result.p99} ms (spawn-to-exit seen by the launcher p50 ${result.launcherP50} ms); idle CPU ${result.idleCpuPct}%`,
  );
  return result;
}

const CONF = '/etc/fapolicyd/fapolicyd.conf';
const COMPILED = '/etc/fapolicyd/compiled.rules';
const RULES_D = '/etc/fapolicyd/rules.d';
const DB_DIR = '/var/lib/fapolicyd';

/**
 * fapolicyd in permissive mode, in the foreground, as a process we own, with the rules Debian
 * ships (rules.d). Everything it needs that is changed is put back by `stop()`: the config file,
 * a compiled rules file it did not have, trust database files it did not have. It runs as root
 * because the package's `uid = fapolicyd` cannot be taken in every container ("Cannot change to
 * uid"); the decisions are the same.
 */
export async function startFapolicyd(log: (m: string) => void): Promise<{ stop(): Promise<void> } | null> {
  if (!existsSync('/usr/sbin/fapolicyd') || !existsSync(CONF)) return null;
  const originalConf = readFileSync(CONF);
  const hadCompiled = existsSync(COMPILED);
  const dbBefore = new Set(existsSync(DB_DIR) ? readdirSync(DB_DIR) : []);
  let child: ChildProcess | null = null;
  const restore = () => {
    writeFileSync(CONF, originalConf);
    if (!hadCompiled) rmSync(COMPILED, { force: true });
    if (existsSync(DB_DIR)) for (const f of readdirSync(DB_DIR)) if (!dbBefore.has(f)) rmSync(join(DB_DIR, f), { force: true });
  };
  try {
    const conf = originalConf
      .toString()
      .replace(/^permissive\s*=.*$/m, 'permissive = 1')
      .replace(/^uid\s*=.*$/m, 'uid = root')
      .replace(/^gid\s*=.*$/m, 'gid = root');
    writeFileSync(CONF, conf);
    if (!hadCompiled) {
      const rules = existsSync(RULES_D)
        ? readdirSync(RULES_D)
            .filter((f) => f.endsWith('.rules'))
            .sort()
            .map((f) => readFileSync(join(RULES_D, f), 'utf8'))
        : [];
      writeFileSync(COMPILED, rules.join('\n'));
    }
    // Its debug output goes to a file, never a pipe: the workload runs with spawnSync, which
    // stops this process from draining a pipe, and a full pipe would stall fapolicyd's decisions.
    const logFile = join(tmpdir(), `vigil-bench-fapolicyd-${process.pid}.log`);
    const fd = openSync(logFile, 'w');
    child = spawn('/usr/sbin/fapolicyd', ['--debug-deny'], { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    const started = Date.now();
    try {
      for (;;) {
        const output = readFileSync(logFile, 'utf8');
        if (output.includes('Starting to listen for events')) break;
        if (child.exitCode !== null || child.signalCode !== null)
          throw new Error(`fapolicyd exited (${child.exitCode ?? child.signalCode}): ${output.slice(-500)}`);
        if (Date.now() - started > 60_000) throw new Error(`fapolicyd not ready after 60 s: ${output.slice(-500)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      rmSync(logFile, { force: true }); // fapolicyd keeps writing to the unlinked file
    }
    log(`fapolicyd running in permissive mode (pid ${child.pid})`);
  } catch (error) {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    restore();
    throw error;
  }
  const running = child;
  return {
    async stop() {
      if (running.exitCode === null && running.signalCode === null) {
        const exited = new Promise<void>((r) => running.once('exit', () => r()));
        running.kill('SIGINT');
        const timer = setTimeout(() => running.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      restore();
    },
  };
}
