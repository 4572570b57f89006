import type { ConsoleMigration } from './migration.js';

/**
 * Per-group-set delivery (issue 16): the signed bundle each group set's devices are offered, kept
 * across restarts so that a restarted console offers the same bundles (same digests, deltas from
 * them) rather than signing everything again under a new version. `content_digest` is the digest
 * of the merged policy the bundle was signed from, so a restart can tell that nothing changed.
 */
export const migration: ConsoleMigration = {
  version: 8,
  name: 'policy-sets',
  up: `
  CREATE TABLE policy_sets (
    set_key TEXT PRIMARY KEY, groups TEXT NOT NULL, version INTEGER NOT NULL, bundle TEXT NOT NULL,
    content_digest TEXT NOT NULL, next_change_at TEXT);
`,
  postgres: `
  CREATE TABLE policy_sets (
    set_key TEXT PRIMARY KEY, groups TEXT NOT NULL, version BIGINT NOT NULL, bundle TEXT NOT NULL,
    content_digest TEXT NOT NULL, next_change_at TEXT);
`,
};
