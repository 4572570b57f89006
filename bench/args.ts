import { setPriority } from 'node:os';
import { parseArgs } from 'node:util';

/**
 * Benchmark arguments from the command line or, when run as `npm run bench:x --agents 10`,
 * from npm's environment (npm turns unknown `--flag value` pairs into npm_config_flag).
 */
export function benchArgs<T extends Record<string, { default: string }>>(spec: T): { [K in keyof T]: string } {
  const options = Object.fromEntries(Object.keys(spec).map((k) => [k, { type: 'string' as const }]));
  const { values, positionals } = parseArgs({ args: process.argv.slice(2), options, strict: true, allowPositionals: true });
  // `npm run x --agents 10` leaves npm_config_agents=true and passes "10" on as a positional.
  const loose = [...positionals];
  const out: Record<string, string> = {};
  for (const [key, { default: fallback }] of Object.entries(spec)) {
    const fromNpm = process.env[`npm_config_${key.replace(/-/g, '_')}`];
    const npmValue = fromNpm === 'true' ? loose.shift() : fromNpm;
    out[key] = (values as Record<string, string | undefined>)[key] ?? npmValue ?? fallback;
    if (!/^\d+(\.\d+)?$/.test(out[key]!) && !['url', 'urls', 'token', 'database', 'console-key', 'profile'].includes(key)) {
      throw new Error(`--${key} must be a number, not "${out[key]}"`);
    }
  }
  return out as { [K in keyof T]: string };
}

export function percentile(sorted: number[], p: number): number | null {
  if (!sorted.length) return null;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}

export const round = (n: number | null, digits = 2) => (n === null ? null : Math.round(n * 10 ** digits) / 10 ** digits);

/** A message and its causes ("fetch failed" alone does not say that a socket could not be opened). */
export function describeError(error: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = error, depth = 0; e !== undefined && e !== null && depth < 4; depth++) {
    if (e instanceof Error) {
      const code = (e as NodeJS.ErrnoException).code;
      parts.push(code && !e.message.includes(code) ? `${e.message} (${code})` : e.message);
      e = e.cause;
    } else {
      parts.push(String(e));
      break;
    }
  }
  return parts.join(': ');
}

/**
 * A benchmark's log line writer, with whatever goes wrong (a refused argument, a child dying, a
 * request failing) said in one plain line with its cause and a non-zero exit status.
 */
export function benchLog(name: string): { log: (message: string) => void; fail: (error: unknown) => never } {
  const log = (message: string) => void process.stderr.write(`[bench:${name}] ${message}\n`);
  const fail = (error: unknown): never => {
    log(`failed: ${describeError(error)}`);
    process.exit(1);
  };
  process.on('uncaughtException', fail);
  process.on('unhandledRejection', fail);
  return { log, fail };
}

/** How many of `items` fall under each key. */
export function countBy<T>(items: readonly T[], key: (item: T) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1;
  return counts;
}

/**
 * `--simulator-nice N` of the fleet benchmarks (bench:cluster, bench:policy): the simulator
 * processes' nice value. They stand for thousands of laptops, each with a CPU of its own: at 10,
 * when the shared cores are short, the system under test runs first, as it would on its own
 * hosts. 0: as equals.
 */
export const SIMULATOR_NICE_ARG = { 'simulator-nice': { default: '10' } } as const;

/** Gives a simulator process the nice value of `--simulator-nice`. */
export function niceSimulator(pid: number, args: { 'simulator-nice': string }): void {
  setPriority(pid, Number(args['simulator-nice']));
}
