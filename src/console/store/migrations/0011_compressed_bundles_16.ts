import type { ConsoleMigration } from './migration.js';

/**
 * Signed bundles stored as served (issue 16): compressed, beside the JSON column, which is left
 * empty for such rows. A one-rule change to a 100,000-rule policy stored four 11 MB group-set
 * bundles and the fleet's record of 22 MB (bundle and document); compressed, about 18 MB in all,
 * written from bytes the console made anyway. A fleet record's document is its bundle's policy.
 */
export const migration: ConsoleMigration = {
  version: 11,
  name: 'compressed-bundles',
  up: `
  ALTER TABLE policy_sets ADD COLUMN bundle_encoded BLOB;
  ALTER TABLE policy_sets ADD COLUMN encoding TEXT;
  ALTER TABLE policies ADD COLUMN bundle_encoded BLOB;
  ALTER TABLE policies ADD COLUMN encoding TEXT;
`,
  postgres: `
  ALTER TABLE policy_sets ADD COLUMN bundle_encoded BYTEA;
  ALTER TABLE policy_sets ADD COLUMN encoding TEXT;
  ALTER TABLE policies ADD COLUMN bundle_encoded BYTEA;
  ALTER TABLE policies ADD COLUMN encoding TEXT;
`,
};
