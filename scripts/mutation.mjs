#!/usr/bin/env node
// `npm run mutation [-- NAME...]`: Stryker over the security-boundary modules, one module at a
// time, each judged by its own unit tests only (never the e2e suite). Options shared by every
// run are in stryker.config.mjs. Prints one line per module and, last, one JSON object of
// scores (the benchmark convention); reports/mutation/NAME.json keeps Stryker's full report.
// Survivors and why they are harmless: docs/mutation.md.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Module -> the file Stryker mutates and the unit test files that must kill its mutants. */
export const MODULES = {
  'verify-flag': { file: 'src/agent/usb/verify-flag.ts', tests: ['test/unit/scan-flag.test.ts', 'test/unit/verify-flag-boundaries.test.ts'] },
  'scan-flag': { file: 'src/shared/node/scan-flag.ts', tests: ['test/unit/scan-flag.test.ts', 'test/unit/scan-flag-format.test.ts'] },
  'policy-verify': { file: 'src/shared/node/policy-verify.ts', tests: ['test/unit/policy-bundle.test.ts', 'test/unit/policy-verify-boundaries.test.ts'] },
  'exec-decision': {
    file: 'src/agent/exec/decision.ts',
    tests: ['test/unit/exec-decision.test.ts', 'test/unit/app-rules.test.ts', 'test/unit/exec-boundaries.test.ts'],
  },
  'exec-evaluator': { file: 'src/agent/exec/evaluator.ts', tests: ['test/unit/exec-decision.test.ts', 'test/unit/exec-boundaries.test.ts'] },
  'exec-rule-set': {
    file: 'src/agent/exec/rule-set.ts',
    tests: ['test/unit/exec-decision.test.ts', 'test/unit/app-rules.test.ts', 'test/unit/exec-boundaries.test.ts'],
  },
  roles: { file: 'src/shared/roles.ts', tests: ['test/unit/roles-matrix.test.ts'] },
  router: { file: 'src/console/http/router.ts', tests: ['test/unit/http-router.test.ts'] },
  'session-core': { file: 'src/agent/session/core.ts', tests: ['test/unit/session-core.test.ts', 'test/unit/session-core-boundaries.test.ts'] },
  'ipc-framing': { file: 'src/agent/local-ipc/framing.ts', tests: ['test/unit/ipc-framing.test.ts'] },
  'command-gate': { file: 'src/agent/commands.ts', tests: ['test/unit/session-commands.test.ts', 'test/unit/command-gate-boundaries.test.ts'] },
};

const wanted = process.argv.slice(2);
const unknown = wanted.filter((name) => !(name in MODULES));
if (unknown.length) {
  console.error(`unknown module ${unknown.join(', ')}; known: ${Object.keys(MODULES).join(', ')}`);
  process.exit(2);
}
const names = wanted.length ? wanted : Object.keys(MODULES);
mkdirSync(join(REPO, 'reports/mutation'), { recursive: true });

const figures = {};
let failed = false;
for (const name of names) {
  const { file, tests } = MODULES[name];
  const report = `reports/mutation/${name}.json`;
  const started = Date.now();
  const run = spawnSync('npx', ['stryker', 'run', 'stryker.config.mjs', '--mutate', file, '--logLevel', 'warn'], {
    cwd: REPO,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, VIGIL_MUTATION_REPORT: report, VIGIL_MUTATION_TESTS: tests.join(',') },
  });
  if (run.status !== 0) {
    console.error(`${name}: stryker exited with ${run.status ?? run.signal}`);
    failed = true;
    continue;
  }
  const score = summarise(JSON.parse(readFileSync(join(REPO, report), 'utf8')));
  figures[name] = { ...score, seconds: Math.round((Date.now() - started) / 1000) };
  console.log(
    `${name}: ${score.score} % (${score.killed} killed, ${score.survived} survived, ${score.noCoverage} not covered, ${score.timeout} timed out) in ${figures[name].seconds} s`,
  );
}
console.log(JSON.stringify(figures));
process.exit(failed ? 1 : 0);

/** Stryker's mutation score: detected (killed + timeout) over valid mutants (errors excluded). */
function summarise(report) {
  const counts = { killed: 0, survived: 0, noCoverage: 0, timeout: 0, ignored: 0, errors: 0 };
  for (const file of Object.values(report.files)) {
    for (const m of file.mutants) {
      if (m.status === 'Killed') counts.killed++;
      else if (m.status === 'Survived') counts.survived++;
      else if (m.status === 'NoCoverage') counts.noCoverage++;
      else if (m.status === 'Timeout') counts.timeout++;
      else if (m.status === 'Ignored') counts.ignored++;
      else counts.errors++;
    }
  }
  const detected = counts.killed + counts.timeout;
  const valid = detected + counts.survived + counts.noCoverage;
  return { score: valid ? Math.round((1000 * detected) / valid) / 10 : 100, mutants: valid, ...counts };
}
