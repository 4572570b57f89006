import type { ConsoleMigration } from './migration.js';

export const migration: ConsoleMigration = {
  version: 3,
  name: 'app-requests',
  up: `
  CREATE TABLE app_requests (
    id TEXT PRIMARY KEY, device_id TEXT NOT NULL REFERENCES devices(id), requested_at TEXT NOT NULL,
    name TEXT NOT NULL, path TEXT NOT NULL, sha256 TEXT NOT NULL, signer TEXT NOT NULL, user TEXT, reason TEXT,
    status TEXT NOT NULL DEFAULT 'pending', decided_by TEXT, decided_at TEXT, note TEXT, policy_version INTEGER);
  CREATE INDEX app_requests_status ON app_requests(status, requested_at);
`,
  postgres: `
  CREATE TABLE app_requests (
    id TEXT PRIMARY KEY, device_id TEXT NOT NULL REFERENCES devices(id), requested_at TEXT NOT NULL,
    name TEXT NOT NULL, path TEXT NOT NULL, sha256 TEXT NOT NULL, signer TEXT NOT NULL, "user" TEXT, reason TEXT,
    status TEXT NOT NULL DEFAULT 'pending', decided_by TEXT, decided_at TEXT, note TEXT, policy_version BIGINT);
  CREATE INDEX app_requests_status ON app_requests(status, requested_at);
`,
};
