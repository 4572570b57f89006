import { randomBytes } from 'node:crypto';
import { constants, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { startConsole } from '../src/console/server.js';
import { createLogger } from '../src/shared/node/log.js';
import type { AppRule } from '../src/shared/app-rules.js';
import { benchArgs } from './args.js';

/**
 * The real console (startConsole: store, hub, policy plane, distribution, fetch routes, feed) for
 * `npm run bench:policy`. At start it makes `--sets` device groups by hostname (the simulated
 * agents' hostnames end in a number: group set-k holds those whose last digit is k modulo
 * `--sets`), each with a policy of one rule of its own assigned to it, so devices fall into
 * `--sets` group sets. On a `{"rules":N}` line on stdin it pushes a document of N hash rules onto
 * the baseline through the plane (as `vigil policy push FILE` does); on `{"changeOne":true}` it adds
 * one rule to the baseline through the plane's rule API. Prints one JSON line per publication with
 * what each group set's devices are offered.
 */
const args = benchArgs({ sets: { default: '3' }, 'trace-steps': { default: '0' } });
const sets = Number(args.sets);
const running = await startConsole({
  dataDir: process.env.VIGIL_BENCH_DATA_DIR!,
  host: '127.0.0.1',
  port: 0,
  log: createLogger('console', 'error'),
});
const { plane } = running;
const who = { actor: 'bench' };
const hashRule = (): AppRule => ({ kind: 'sha256', sha256: randomBytes(32).toString('hex'), action: 'allow' });
/** N random hash rules from one draw of random bytes: making the push is not what is measured. */
const hashRules = (n: number): AppRule[] => {
  const hex = randomBytes(32 * n).toString('hex');
  return Array.from({ length: n }, (_, i) => ({ kind: 'sha256', sha256: hex.slice(64 * i, 64 * i + 64), action: 'allow' }));
};
const document = (rules: AppRule[]) => ({
  format: 'vigil-policy/1' as const,
  name: 'bench baseline',
  applications: { mode: 'enforce' as const, defaultAction: 'block' as const, rules },
});
await plane.push(null, document([]), 'refuse', who);
for (let k = 0; k < sets; k++) {
  const digits = Array.from({ length: 10 }, (_, d) => d).filter((d) => d % sets === k);
  await plane.createGroup(
    { name: `set-${k}`, displayName: `Set ${k}`, devices: [], rules: digits.map((d) => ({ kind: 'hostname' as const, pattern: `*${d}` })) },
    who,
  );
  await plane.createPolicy({ name: `set-${k}`, displayName: `Set ${k}`, content: { settings: {}, rules: [] } }, who);
  await plane.addRule(`set-${k}`, { rule: hashRule(), exception: false, reason: 'bench', replace: false }, who);
  await plane.assign({ policy: `set-${k}`, group: `set-${k}`, precedence: k + 1 }, who);
}
process.stdout.write(`listening on ${running.url}\n`);

/** When the console was ready: stalls and pauses below are timed from here. */
const t0 = Date.now();

/** Garbage-collection pauses over 100 ms, to stderr beside the stalls: which stalls were the collector's. */
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    const kind = (entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind;
    if (entry.duration > 100)
      process.stderr.write(
        `[console] gc ${kind === constants.NODE_PERFORMANCE_GC_MAJOR ? 'major' : `kind ${kind}`} ${Math.round(entry.duration)} ms at ${((Date.now() - t0) / 1000).toFixed(1)} s\n`,
      );
  }
}).observe({ entryTypes: ['gc'] });

/** Stalls of the console's event loop over 100 ms, to stderr: what holds the dashboard feed. */
let lastTick = Date.now();
setInterval(() => {
  const now = Date.now();
  if (now - lastTick > 150) process.stderr.write(`[console] loop stalled ${now - lastTick - 50} ms at ${((now - t0) / 1000).toFixed(1)} s\n`);
  lastTick = now;
}, 50).unref();

/**
 * With `--trace-steps 1`: each step of a publication (the store's write, the distribution's
 * prepare and commit, the publisher's signing, the plane's fleet reads) to stderr with when it
 * started and how long it took, beside the stalls above: which step a stall was.
 */
if (args['trace-steps'] === '1') {
  const trace = (owner: object, names: string[], label: string) => {
    for (const name of names) {
      const target = owner as Record<string, (...a: unknown[]) => unknown>;
      const original = target[name]!.bind(owner);
      target[name] = (...a: unknown[]) => {
        const started = Date.now();
        const cpu = process.cpuUsage();
        // The process's CPU beside the wall time: a step much longer than its CPU waited (for a core, or for others' turns).
        const cpuMs = () => Math.round((({ user, system }) => user + system)(process.cpuUsage(cpu)) / 1000);
        const done = () =>
          process.stderr.write(
            `[console] step ${label}.${name} ${Date.now() - started} ms (process CPU ${cpuMs()} ms) from ${((started - t0) / 1000).toFixed(1)} s\n`,
          );
        const out = original(...a);
        if (out instanceof Promise) void out.then(done, done);
        else done();
        return out;
      };
    }
  };
  trace(running.store, ['applyPolicyChange', 'savePolicySets', 'listDevices'], 'store');
  trace(running.distribution, ['prepare', 'commit'], 'distribution');
  const publisher = (running.distribution as unknown as { deps: { publisher: object } }).deps.publisher;
  trace(publisher, ['prepare', 'commit'], 'publisher');
}

createInterface({ input: process.stdin }).on('line', (line) => {
  void (async () => {
    const command = JSON.parse(line) as { rules?: number; changeOne?: boolean; exit?: boolean; linkStats?: boolean };
    if (command.exit) process.exit(0);
    if (command.linkStats) return void process.stdout.write(`${JSON.stringify({ linkStats: running.hub.stats })}\n`);
    const started = Date.now();
    const result = command.rules
      ? await plane.push(null, document(hashRules(command.rules)), 'refuse', who)
      : await plane.addRule('baseline', { rule: hashRule(), exception: false, reason: 'bench: one-rule change', replace: false }, who);
    if ('ok' in result && !result.ok) throw new Error('the push was refused');
    const version = 'version' in result ? result.version : null;
    const publishMs = Date.now() - started;
    const keys = running.distribution.setKeys();
    const offered = (await Promise.all(keys.map((key) => running.distribution.published(key)))).filter((p) => p && p.version === version);
    process.stdout.write(
      `${JSON.stringify({ published: offered, prepareMs: null, commitMs: publishMs, notified: 'notified' in result ? result.notified : 0, stats: running.distribution.stats, linkStats: running.hub.stats })}\n`,
    );
  })().catch((error: unknown) => {
    process.stderr.write(`publish failed: ${(error as Error).stack}\n`);
    process.exit(1);
  });
});
