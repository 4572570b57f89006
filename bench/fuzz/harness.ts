import fc from 'fast-check';
import type { FuzzTarget, Verdict } from './common.js';

/**
 * The properties every target must hold, case by case:
 * - no crash: the parser returns (or throws only the refusal it documents; targets.ts turns that
 *   into a rejection), whatever it is given;
 * - every rejection is a clear error: a one-line message of readable length that says something
 *   (not empty, not "undefined" or "[object Object]", no raw control characters a log or a
 *   terminal would act on);
 * - what is accepted survives its own serialisation (round trip), where the format has one;
 * - no hang: the CPU time of each case is measured (CPU, not wall time: on a shared machine a
 *   case can wait seconds for a core) and the slowest reported; a case over the bound counts as
 *   a failure of the fuzz run (never asserted as a timing in `npm test`).
 */
export const MAX_MESSAGE_CHARS = 2000;

export function messageProblem(message: unknown): string | null {
  if (typeof message !== 'string') return `the rejection message is ${typeof message}, not text`;
  if (message.trim().length < 3) return `the rejection message is empty (${JSON.stringify(message)})`;
  if (message.length > MAX_MESSAGE_CHARS) return `the rejection message is ${message.length} characters long (${JSON.stringify(message.slice(0, 120))}...)`;
  if (/^undefined$|\[object Object\]/.test(message)) return `the rejection message says nothing useful: ${JSON.stringify(message.slice(0, 200))}`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000a-\u001f]/.test(message)) return `the rejection message carries raw control characters: ${JSON.stringify(message.slice(0, 200))}`;
  return null;
}

/** Checks one case; returns what went wrong, or null. Never throws. */
export function checkCase<I>(target: FuzzTarget<I>, input: I): { problem: string | null; accepted: number; rejected: number } {
  let verdicts: Verdict[];
  try {
    const v = target.run(input);
    verdicts = Array.isArray(v) ? v : [v];
  } catch (error) {
    const e = error as Error;
    return { problem: `threw ${e?.constructor?.name ?? typeof error}: ${String(e?.message ?? error).slice(0, 300)}`, accepted: 0, rejected: 0 };
  }
  let accepted = 0;
  let rejected = 0;
  for (const verdict of verdicts) {
    if (!verdict.accepted) {
      rejected++;
      const problem = messageProblem(verdict.message);
      if (problem) return { problem, accepted, rejected };
      continue;
    }
    accepted++;
    if (!verdict.roundTrip) continue;
    let problem: string | null;
    try {
      problem = verdict.roundTrip();
    } catch (error) {
      problem = `round trip threw ${(error as Error)?.constructor?.name}: ${String((error as Error)?.message ?? error).slice(0, 300)}`;
    }
    if (problem) return { problem, accepted, rejected };
  }
  return { problem: null, accepted, rejected };
}

export interface TargetReport {
  cases: number;
  accepted: number;
  rejected: number;
  failures: number;
  /** Cases over the bound in CPU time (a hang, or close to one). */
  slow: number;
  /** The most CPU time one case took (this process, all threads: GC included). */
  maxCpuMs: number;
  /** The longest wall time one case took (includes waiting for a core on a busy machine). */
  maxMs: number;
  /** The first failure, shrunk by fast-check to a small example. */
  example?: { problem: string; input: string };
  /** The slowest input, described (to look into when `slow` is not zero). */
  slowest?: string;
  /** The same input itself (not printed: it may be megabytes). */
  slowestInput?: unknown;
}

/** Describes an input for a report without printing a megabyte of it. */
export function describeInput(input: unknown): string {
  const text = Buffer.isBuffer(input)
    ? `<${input.length} bytes> ${JSON.stringify(input.subarray(0, 200).toString('latin1'))}`
    : typeof input === 'string'
      ? JSON.stringify(input)
      : safeStringify(input);
  return text.length > 400 ? `${text.slice(0, 400)}... (${text.length} characters)` : text;
}

function safeStringify(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch (error) {
    return `(not serialisable: ${(error as Error).message})`;
  }
}

/**
 * Runs `cases` generated inputs through one target. Failures are counted, not stopped at; the
 * first one is then shrunk by fast-check so the report shows a small example.
 */
export function fuzzTarget<I>(target: FuzzTarget<I>, opts: { cases: number; seed: number; boundMs: number }): TargetReport {
  const report: TargetReport = { cases: 0, accepted: 0, rejected: 0, failures: 0, slow: 0, maxCpuMs: 0, maxMs: 0 };
  let firstFailure: I | undefined;
  fc.assert(
    fc.property(target.input, (input) => {
      const started = performance.now();
      const cpu = process.cpuUsage();
      const { problem, accepted, rejected } = checkCase(target, input);
      const spent = process.cpuUsage(cpu);
      const cpuMs = (spent.user + spent.system) / 1000;
      const ms = performance.now() - started;
      report.cases++;
      report.accepted += accepted;
      report.rejected += rejected;
      report.maxMs = Math.max(report.maxMs, ms);
      if (cpuMs > report.maxCpuMs) {
        report.maxCpuMs = cpuMs;
        if (cpuMs > opts.boundMs) [report.slowest, report.slowestInput] = [describeInput(input), input];
      }
      if (cpuMs > opts.boundMs) report.slow++;
      if (problem) {
        report.failures++;
        firstFailure ??= input;
      }
    }),
    { numRuns: opts.cases, seed: opts.seed },
  );
  if (firstFailure !== undefined) {
    // The same seed regenerates the same cases, so this finds the same failure, then shrinks it.
    const shrunk = fc.check(
      fc.property(target.input, (input) => checkCase(target, input).problem === null),
      { numRuns: opts.cases, seed: opts.seed, maxSkipsPerRun: 0 },
    );
    const input = (shrunk.counterexample?.[0] ?? firstFailure) as I;
    report.example = { problem: checkCase(target, input).problem ?? '(not reproduced)', input: describeInput(input) };
  }
  report.maxMs = Math.round(report.maxMs * 10) / 10;
  report.maxCpuMs = Math.round(report.maxCpuMs * 10) / 10;
  return report;
}
