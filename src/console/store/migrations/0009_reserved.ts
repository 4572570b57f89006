import type { ConsoleMigration } from './migration.js';

/**
 * Step 9 was reserved for a branch that in the end needed no schema change; steps are numbered
 * without gaps, so it stays as an empty step (recorded as `9:reserved` on both engines) and the
 * next change is step 11.
 */
export const migration: ConsoleMigration = {
  version: 9,
  name: 'reserved',
  up: `SELECT 1;`,
  postgres: `SELECT 1;`,
};
