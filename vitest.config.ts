import { defineConfig } from 'vitest/config';

// Integration tests start real consoles, agents and browsers; on a 2-core machine they run
// one file at a time so their timing stays predictable.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default'],
    pool: 'forks',
  },
});
