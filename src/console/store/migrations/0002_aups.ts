import type { Migration } from '../../../shared/node/migrations.js';

export const migration: Migration = {
  version: 2,
  name: 'aups',
  up: `
  CREATE TABLE aups (
    variant TEXT NOT NULL, version INTEGER NOT NULL, signed TEXT NOT NULL,
    published_by TEXT NOT NULL, published_at TEXT NOT NULL, PRIMARY KEY (variant, version));
  CREATE TABLE aup_receipts (
    id INTEGER PRIMARY KEY, device_id TEXT NOT NULL REFERENCES devices(id), user TEXT NOT NULL,
    variant TEXT NOT NULL, version INTEGER NOT NULL, aup_hash TEXT NOT NULL, typed_name TEXT NOT NULL,
    accepted_at TEXT NOT NULL, received_at TEXT NOT NULL, receipt TEXT NOT NULL,
    UNIQUE (device_id, user, variant, version));
  CREATE INDEX aup_receipts_user ON aup_receipts(variant, user);
`,
};
