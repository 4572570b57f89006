import type { ConsoleMigration } from './migration.js';

/**
 * A large whole policy revision stored compressed (issue 16): `content_encoded` holds what
 * `content` would (`encoding` names how it is compressed), and `content` is left empty. A
 * 100,000-rule revision is about 23 MB of JSON; written as text inside the change's transaction
 * it held a SQLite console's only thread for 0.5–0.8 s (compressed on libuv's pool first, the
 * write is a few milliseconds). Rows stored before are text, as the null they get says.
 */
export const migration: ConsoleMigration = {
  version: 13,
  name: 'compressed-revisions',
  up: `
  ALTER TABLE policy_revisions ADD COLUMN content_encoded BLOB;
  ALTER TABLE policy_revisions ADD COLUMN encoding TEXT;
`,
  postgres: `
  ALTER TABLE policy_revisions ADD COLUMN content_encoded BYTEA;
  ALTER TABLE policy_revisions ADD COLUMN encoding TEXT;
`,
};
