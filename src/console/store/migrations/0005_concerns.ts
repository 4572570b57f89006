import type { ConsoleMigration } from './migration.js';

/** Concerns live here and nowhere else: the events table must never hold a pupil's words. */
export const migration: ConsoleMigration = {
  version: 5,
  name: 'concerns',
  up: `
  CREATE TABLE concerns (
    id TEXT PRIMARY KEY, device_id TEXT NOT NULL REFERENCES devices(id), user TEXT, reported_at TEXT NOT NULL,
    received_at TEXT NOT NULL, category TEXT NOT NULL, text TEXT NOT NULL, wants_contact INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'new', updated_by TEXT, updated_at TEXT, note TEXT);
  CREATE INDEX concerns_status ON concerns(status, reported_at);
`,
  postgres: `
  CREATE TABLE concerns (
    id TEXT PRIMARY KEY, device_id TEXT NOT NULL REFERENCES devices(id), "user" TEXT, reported_at TEXT NOT NULL,
    received_at TEXT NOT NULL, category TEXT NOT NULL, text TEXT NOT NULL, wants_contact INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'new', updated_by TEXT, updated_at TEXT, note TEXT);
  CREATE INDEX concerns_status ON concerns(status, reported_at);
`,
};
