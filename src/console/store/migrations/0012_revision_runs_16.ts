import type { ConsoleMigration } from './migration.js';

/**
 * A policy revision may be stored as runs against an anchor, a whole revision of the same policy
 * (`policy_revisions.base_revision`, null for a whole one: store/sql/revision-storage.ts). Rows
 * stored before are whole, as the null they get says.
 */
const TEXT = `ALTER TABLE policy_revisions ADD COLUMN base_revision INTEGER;`;

export const migration: ConsoleMigration = {
  version: 12,
  name: 'revision-runs',
  up: TEXT,
  postgres: TEXT,
};
