import type { ConsoleMigration } from './migration.js';

/**
 * Presence after a crash (issue 17): which console process holds each online device
 * (`devices.held_by`, its bus process id), and each process's lease (`console_leases`), renewed
 * while it runs. A process killed without a word leaves its lease to lapse; any other (or the
 * next to start) then marks that process's devices offline.
 */
export const migration: ConsoleMigration = {
  version: 10,
  name: 'presence-lease',
  up: `
  ALTER TABLE devices ADD COLUMN held_by TEXT;
  CREATE INDEX devices_online_held_by ON devices(held_by) WHERE online = 1;
  CREATE TABLE console_leases (process_id TEXT PRIMARY KEY, expires_at TEXT NOT NULL);
`,
  postgres: `
  ALTER TABLE devices ADD COLUMN held_by TEXT;
  CREATE INDEX devices_online_held_by ON devices(held_by) WHERE online = 1;
  CREATE TABLE console_leases (process_id TEXT PRIMARY KEY, expires_at TEXT NOT NULL);
`,
};
