import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

// Stryker's vitest runner loads this config (stryker.config.mjs): only the unit test files named
// in VIGIL_MUTATION_TESTS run, never the e2e suite. Tests are chosen here rather than with
// Stryker's `testFiles`, which activates module-level ("static") mutants only after the module
// has loaded, so they all survive (stryker-js issue 6144).
const files = (process.env.VIGIL_MUTATION_TESTS ?? '').split(',').filter(Boolean);
if (files.length === 0) throw new Error('VIGIL_MUTATION_TESTS names no test files (run `npm run mutation`)');

export default defineConfig({ ...base, test: { ...base.test, include: files } });
