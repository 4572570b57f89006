import type { ConsoleMigration } from './migration.js';

/**
 * Step 9 is reserved for the policy plane's performance work (being written on another branch);
 * steps must be numbered without gaps, so until it lands this placeholder changes nothing. Whoever
 * merges that step replaces this file with it (a database never runs step 9 twice: none has
 * applied this placeholder outside development).
 */
export const migration: ConsoleMigration = {
  version: 9,
  name: 'reserved',
  up: `SELECT 1;`,
  postgres: `SELECT 1;`,
};
