import Database from 'better-sqlite3';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, rmSync, statfsSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchArgs } from './args.js';

/**
 * `npm run bench:faults [-- --emit-seconds 20 --cut-seconds 180 --full-seconds 30 --rate 50]`
 * A real console and a real agent (`vigil console`, `vigil agent`), the agent generating events
 * through its durable outbox (`vigil agent emit`, once a second), and one fault at a time:
 *   console-kill9  the console is killed with SIGKILL mid-stream and started again
 *   agent-kill9    the agent is killed with SIGKILL mid-stream; events keep being queued; restarted
 *   network-cut    the console is frozen (SIGSTOP) for --cut-seconds: its sockets stay open but
 *                  nothing answers, as with a cut cable; then SIGCONT
 *   disk-full      the console's data directory is a small tmpfs; it is filled to the last byte
 *                  for --full-seconds, then the filler is removed
 *   clock-jump     both processes run under libfaketime (Debian package libfaketime); mid-stream
 *                  the console's wall clock jumps 3 h forward and the agent's 1 h back (monotonic
 *                  clocks untouched, as with an NTP step)
 * For each fault: events generated (seqs the outbox assigned), stored at the console, lost and
 * duplicated, counted by (device, seq) in the console's SQLite. The last stdout line is one JSON
 * object with those counts per fault. Needs root (tmpfs mount). Ends only the processes it
 * started, by PID, and unmounts what it mounted.
 */
const args = benchArgs({
  'emit-seconds': { default: '20' },
  'cut-seconds': { default: '180' },
  'full-seconds': { default: '30' },
  'down-seconds': { default: '5' },
  'drain-seconds': { default: '180' },
  rate: { default: '50' },
  'tmpfs-mb': { default: '48' },
});
const emitSeconds = Number(args['emit-seconds']);
const dist = fileURLToPath(new URL('..', import.meta.url));
const cli = join(dist, 'src/cli/main.js');
const FAKETIME_LIB = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';
const password = 'faults-admin-password-0001';
const token = 'faults-enroll-token-0123456789';
const log = (message: string) => process.stderr.write(`[bench:faults ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

if (process.getuid?.() !== 0) throw new Error('bench:faults needs root (it mounts a tmpfs for the console data directory)');
ensureFaketime();

const root = mkdtempSync(join(tmpdir(), 'vigil-faults-'));
const consoleDir = join(root, 'console');
const agentDir = join(root, 'agent');
const clocks = { console: join(root, 'console.faketime'), agent: join(root, 'agent.faketime') };
mkdirSync(consoleDir);
mkdirSync(agentDir);
writeFileSync(clocks.console, '+0\n');
writeFileSync(clocks.agent, '+0\n');
execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${args['tmpfs-mb']}m,mode=0700`, 'vigil-faults', consoleDir]);
let mounted = true;
const filler = join(consoleDir, 'filler');
const children = new Set<ChildProcess>();

/** Everything this run started or mounted, undone by PID and by path; safe to call twice. */
function cleanUp(): void {
  for (const child of children) {
    if (child.exitCode !== null || child.signalCode !== null || !child.pid) continue;
    try {
      process.kill(child.pid, 'SIGCONT');
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  if (mounted) {
    for (let i = 0; i < 20 && mounted; i++) {
      try {
        execFileSync('umount', [consoleDir], { stdio: 'ignore' });
        mounted = false;
      } catch {
        execFileSync('sleep', ['0.2']);
      }
    }
  }
  rmSync(root, { recursive: true, force: true });
}
process.on('exit', cleanUp);
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(130));

const port = await new Promise<number>((resolve) => {
  const s = createServer();
  s.listen(0, '127.0.0.1', () => {
    const p = (s.address() as { port: number }).port;
    s.close(() => resolve(p));
  });
});
const url = `http://127.0.0.1:${port}`;

function faketimeEnv(clock: string): NodeJS.ProcessEnv {
  // Wall clock from the file (re-read every second); monotonic clocks are left alone.
  return { LD_PRELOAD: FAKETIME_LIB, FAKETIME_TIMESTAMP_FILE: clock, FAKETIME_CACHE_DURATION: '1', FAKETIME_DONT_FAKE_MONOTONIC: '1' };
}

function start(name: string, argv: string[], env: NodeJS.ProcessEnv, ready: RegExp): Promise<ChildProcess> {
  const child = spawn(process.execPath, [cli, ...argv], { env: { ...process.env, VIGIL_LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  let seen = '';
  return new Promise<ChildProcess>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start: ${seen.slice(-2000)}`)), 30_000);
    const onData = (d: Buffer) => {
      seen = (seen + d.toString()).slice(-20_000);
      if (ready.test(seen)) {
        clearTimeout(timer);
        resolve(child);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code ?? signal}) while starting: ${seen.slice(-2000)}`));
    });
  }).then((c) => {
    c.removeAllListeners('exit');
    c.once('exit', () => children.delete(child));
    return c;
  });
}

const startConsole = () =>
  start(
    'console',
    ['console', '--data-dir', consoleDir, '--port', String(port), '--ping-interval', '2'],
    { VIGIL_ADMIN_PASSWORD: password, VIGIL_ENROLL_TOKEN: token, ...faketimeEnv(clocks.console) },
    /listening on/,
  );
const startAgent = () =>
  start(
    'agent',
    ['agent', '--data-dir', agentDir, '--console', url, '--enroll-token', token],
    { VIGIL_BACKOFF_MAX_MS: '1000', ...faketimeEnv(clocks.agent) },
    /connected to console/,
  );

async function kill9(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  process.kill(child.pid!, 'SIGKILL');
  await exited;
}

let lastEmitError: string | null = null;

/** Queues `count` events through the CLI, as a separate process; returns the seqs it was given. */
function emit(note: string, count: number): Promise<number[]> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, 'agent', 'emit', '--data-dir', agentDir, '--count', String(count), '--note', note], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.once('exit', (code) => {
      children.delete(child);
      const m = /seq (\d+)\.\.(\d+)/.exec(out);
      if (code !== 0 || !m) {
        // Nothing was queued (the outbox transaction did not commit): not generated, so not lost.
        lastEmitError = `exit ${code}: ${err.trim().split('\n').at(-1)?.slice(0, 200) ?? ''}`;
        log(`emit failed (${lastEmitError})`);
        return resolve([]);
      }
      const [from, to] = [Number(m[1]), Number(m[2])];
      resolve(Array.from({ length: to - from + 1 }, (_, i) => from + i));
    });
  });
}

/**
 * Emits --rate events a second until `stop` resolves, in one `emit` per second or, when starting
 * the CLI takes longer than that on a busy machine, as many as the elapsed time calls for.
 * Collects every seq the outbox assigned.
 */
function generate(note: string, generated: number[], stop: Promise<unknown>): Promise<{ emitFailures: number }> {
  let done = false;
  void stop.then(() => (done = true));
  return (async () => {
    let emitFailures = 0;
    let last = Date.now() - 1000;
    while (!done) {
      const now = Date.now();
      const count = Math.min(100_000, Math.max(1, Math.round((Number(args.rate) * (now - last)) / 1000)));
      last = now;
      const seqs = await emit(note, count);
      if (!seqs.length) emitFailures++;
      generated.push(...seqs);
      await sleep(Math.max(0, 1000 - (Date.now() - now)));
    }
    return { emitFailures };
  })();
}

/** (device, seq) pairs the console stored for this fault's events, read as a second process would. */
function storedSeqs(note: string): { rows: number; seqs: Set<number> } | null {
  const file = join(consoleDir, 'console.db');
  if (!existsSync(file)) return null;
  let db: Database.Database | null = null;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true, timeout: 2000 });
    const rows = db
      .prepare(`SELECT device_id || ':' || seq AS key, seq FROM events WHERE type = 'diagnostic.test' AND json_extract(body, '$.data.note') = ?`)
      .all(note) as { key: string; seq: number }[];
    const devices = new Set(rows.map((r) => r.key.split(':')[0]));
    if (devices.size > 1) throw new Error(`events of one agent stored under ${devices.size} devices`);
    return { rows: rows.length, seqs: new Set(rows.map((r) => r.seq)) };
  } catch (error) {
    log(`reading the console database: ${(error as Error).message}`);
    return null;
  } finally {
    db?.close();
  }
}

/** Waits until every generated event is stored (or the drain time runs out). */
async function drain(note: string, generated: number[]): Promise<number> {
  const started = Date.now();
  const deadline = started + Number(args['drain-seconds']) * 1000;
  while (Date.now() < deadline) {
    const stored = storedSeqs(note);
    if (stored && generated.every((s) => stored.seqs.has(s))) break;
    await sleep(500);
  }
  return Math.round((Date.now() - started) / 100) / 10;
}

/** Fills the file system to the last byte (big writes, then small ones). */
function fillDisk(): number {
  const fd = openSync(filler, 'w');
  let written = 0;
  try {
    for (const size of [1 << 20, 1 << 12, 1 << 9]) {
      const chunk = Buffer.alloc(size);
      for (;;) {
        try {
          written += writeSync(fd, chunk);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw error;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return written;
}

function ensureFaketime(): void {
  if (existsSync(FAKETIME_LIB)) return;
  log('installing libfaketime (Debian) for the clock-jump fault');
  execFileSync('apt-get', ['update'], { stdio: 'ignore' });
  execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'libfaketime'], {
    stdio: 'ignore',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
}

type FaultResult = {
  generated: number;
  stored: number;
  lost: number;
  duplicated: number;
  storedDuringFault: number;
  drainSeconds: number;
  emitFailures: number;
  consoleRestarts: number;
  note: string;
};

let consoleProc = await startConsole();
log(`console at ${url} (pid ${consoleProc.pid}), data on a ${args['tmpfs-mb']} MB tmpfs`);
let agentProc = await startAgent();
log(`agent connected (pid ${agentProc.pid})`);
let consoleRestarts = 0;

/** A console that died by itself during a fault (not one the bench killed) is started again and counted. */
async function consoleAlive(): Promise<void> {
  if (consoleProc.exitCode === null && consoleProc.signalCode === null) return;
  consoleRestarts++;
  log(`console had exited (${consoleProc.exitCode ?? consoleProc.signalCode}); starting it again`);
  consoleProc = await startConsole();
}

/**
 * One fault: events are generated for emit-seconds around the fault, the fault runs in the
 * middle, then the bench waits for delivery and counts by (device, seq).
 */
async function runFault(name: string, inject: () => Promise<void>, note: string): Promise<FaultResult> {
  const tag = `fault-${name}`;
  const generated: number[] = [];
  const restartsBefore = consoleRestarts;
  let stopGenerating!: () => void;
  const stop = new Promise<void>((r) => (stopGenerating = r));
  const generating = generate(tag, generated, stop);
  await sleep((emitSeconds / 2) * 1000);
  const storedBefore = storedSeqs(tag)?.rows ?? 0;
  log(`${name}: injecting (${generated.length} generated so far, ${storedBefore} stored)`);
  const storedDuring = await injectMeasured(tag, inject);
  await consoleAlive();
  await sleep((emitSeconds / 2) * 1000);
  stopGenerating();
  const { emitFailures } = await generating;
  const drainSeconds = await drain(tag, generated);
  const stored = storedSeqs(tag) ?? { rows: 0, seqs: new Set<number>() };
  const lost = generated.filter((s) => !stored.seqs.has(s)).length;
  const result = {
    generated: generated.length,
    stored: stored.seqs.size,
    lost,
    duplicated: stored.rows - stored.seqs.size,
    storedDuringFault: storedDuring,
    drainSeconds,
    emitFailures,
    consoleRestarts: consoleRestarts - restartsBefore,
    note,
  };
  log(`${name}: ${JSON.stringify(result)}`);
  return result;
}

/** Runs the fault and returns how many of this fault's events were stored while it lasted. */
async function injectMeasured(tag: string, inject: () => Promise<void>): Promise<number> {
  const before = storedSeqs(tag)?.rows ?? 0;
  let during = 0;
  await inject();
  during = Math.max(0, (storedSeqs(tag)?.rows ?? before) - before);
  return during;
}

const results: Record<string, FaultResult> = {};
try {
  results['console-kill9'] = await runFault(
    'console-kill9',
    async () => {
      await kill9(consoleProc);
      await sleep(Number(args['down-seconds']) * 1000);
      consoleProc = await startConsole();
    },
    `SIGKILL, down ${args['down-seconds']} s, restarted on the same data`,
  );
  results['agent-kill9'] = await runFault(
    'agent-kill9',
    async () => {
      await kill9(agentProc);
      await sleep(Number(args['down-seconds']) * 1000);
      agentProc = await startAgent();
    },
    `SIGKILL, events queued while down ${args['down-seconds']} s, restarted`,
  );
  results['network-cut'] = await runFault(
    'network-cut',
    async () => {
      process.kill(consoleProc.pid!, 'SIGSTOP');
      await sleep(Number(args['cut-seconds']) * 1000);
      process.kill(consoleProc.pid!, 'SIGCONT');
    },
    `console frozen with SIGSTOP for ${args['cut-seconds']} s (connections open, nothing answers)`,
  );
  let filled = 0;
  results['disk-full'] = await runFault(
    'disk-full',
    async () => {
      filled = fillDisk();
      log(`disk-full: ${Math.round(filled / 1e6)} MB filler, ${statfsSync(consoleDir).bavail} blocks free`);
      await sleep(Number(args['full-seconds']) * 1000);
      unlinkSync(filler);
    },
    `console data tmpfs (${args['tmpfs-mb']} MB) filled for ${args['full-seconds']} s, then freed`,
  );
  results['clock-jump'] = await runFault(
    'clock-jump',
    async () => {
      writeFileSync(clocks.console, '+3h\n');
      writeFileSync(clocks.agent, '-1h\n');
      await sleep(5000);
    },
    'wall clocks stepped mid-stream (libfaketime): console +3 h, agent -1 h; monotonic clocks untouched',
  );
} finally {
  process.stderr.write('');
}

const total = Object.values(results).reduce((n, r) => ({ lost: n.lost + r.lost, duplicated: n.duplicated + r.duplicated }), { lost: 0, duplicated: 0 });
console.log(JSON.stringify({ bench: 'faults', rate: Number(args.rate), emitSeconds, ...total, faults: results }));
cleanUp();
process.exit(total.lost || total.duplicated ? 1 : 0);
