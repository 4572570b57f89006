import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchArgs } from './args.js';
import { fuzzTarget, type TargetReport } from './fuzz/harness.js';
import { TARGETS } from './fuzz/targets.js';

/**
 * `npm run fuzz [-- --cases 100000 --seed 1 --bound-ms 2000 --only protocol,api]`
 * Property-based fuzzing of every parser that reads input from outside (bench/fuzz/targets.ts):
 * no crash, no hang (each case's CPU time checked against --bound-ms), every rejection a clear error,
 * accepted input survives a round trip. Progress goes to stderr; the last stdout line is one
 * JSON object of per-parser case counts, failures and the slowest case.
 */
// `--only NAME` (a substring of target names) is text, which benchArgs (numbers only) refuses.
const onlyAt = process.argv.indexOf('--only');
const only = onlyAt > 0 ? process.argv.splice(onlyAt, 2)[1] : process.env.npm_config_only;
const args = benchArgs({ cases: { default: '100000' }, seed: { default: '20261204' }, 'bound-ms': { default: '2000' } });
const selected = TARGETS.filter((t) => !only || only.split(',').some((part) => t.name.includes(part)));
const results: Record<string, TargetReport> = {};
const started = Date.now();
for (const target of selected) {
  const t0 = Date.now();
  const report = fuzzTarget(target, { cases: Number(args.cases), seed: Number(args.seed), boundMs: Number(args['bound-ms']) });
  results[target.name] = report;
  process.stderr.write(
    `${target.name.padEnd(28)} ${String(report.cases).padStart(7)} cases  ${String(report.accepted).padStart(7)} accepted  ${String(report.failures).padStart(5)} failures  ${String(report.slow).padStart(3)} slow  max ${report.maxCpuMs} ms CPU / ${report.maxMs} ms wall  (${((Date.now() - t0) / 1000).toFixed(1)} s)\n`,
  );
  if (report.example) process.stderr.write(`  first failure: ${report.example.problem}\n  input: ${report.example.input}\n`);
  if (report.slowest) process.stderr.write(`  slowest input (${report.maxCpuMs} ms CPU): ${report.slowest}\n`);
  // VIGIL_FUZZ_DUMP=DIR keeps the whole slow input, to replay it alone (is it the parser, or a GC pause?).
  if (report.slowestInput !== undefined && process.env.VIGIL_FUZZ_DUMP) {
    const input = report.slowestInput;
    writeFileSync(
      join(process.env.VIGIL_FUZZ_DUMP, `${target.name}.slowest`),
      Buffer.isBuffer(input) ? input : typeof input === 'string' ? input : JSON.stringify(input),
    );
  }
}
const failures = Object.values(results).reduce((n, r) => n + r.failures + r.slow, 0);
console.log(
  JSON.stringify({
    bench: 'fuzz',
    seed: Number(args.seed),
    boundMs: Number(args['bound-ms']),
    seconds: Math.round((Date.now() - started) / 1000),
    failures,
    parsers: Object.fromEntries(
      Object.entries(results).map(([name, r]) => [
        name,
        {
          cases: r.cases,
          accepted: r.accepted,
          rejected: r.rejected,
          failures: r.failures,
          slow: r.slow,
          maxCpuMs: r.maxCpuMs,
          maxMs: r.maxMs,
          ...(r.example ? { example: r.example } : {}),
        },
      ]),
    ),
  }),
);
process.exitCode = failures ? 1 : 0;
