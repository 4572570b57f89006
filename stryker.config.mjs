// Mutation testing of the security-boundary modules (`npm run mutation`, docs/mutation.md).
// scripts/mutation.mjs runs Stryker once per module with `--mutate` and the module's unit test
// files in VIGIL_MUTATION_TESTS (read by vitest.mutation.config.ts), so each module is judged by
// its own unit tests only; these are the options every run shares.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.ts', related: false },
  plugins: ['@stryker-mutator/vitest-runner'],
  // The machine is shared: one test runner at a time.
  concurrency: 1,
  coverageAnalysis: 'perTest',
  reporters: ['clear-text', 'json'],
  // scripts/mutation.mjs names one report file per module.
  jsonReporter: { fileName: process.env.VIGIL_MUTATION_REPORT ?? 'reports/mutation/mutation.json' },
  clearTextReporter: { allowConsoleColors: false, logTests: false },
  // Only what the unit tests load is copied into the sandbox. test/fixtures/usb holds sysfs
  // snapshots with symlinked directories, which the sandbox copy cannot take (USB tests only).
  ignorePatterns: ['dist', 'renderer', 'installer', 'docs', 'test-results', 'reports', '.vigil', 'test/fixtures/usb'],
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
  timeoutMS: 10_000,
  thresholds: { high: 95, low: 90, break: null },
};
