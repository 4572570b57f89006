import type { Migration } from '../../../shared/node/migrations.js';

export const migration: Migration = {
  version: 4,
  name: 'stations-and-history',
  up: `
  CREATE TABLE station_keys (
    id TEXT PRIMARY KEY, public_key TEXT NOT NULL UNIQUE, key_id TEXT NOT NULL UNIQUE,
    registered_by TEXT NOT NULL, registered_at TEXT NOT NULL, revoked_by TEXT, revoked_at TEXT);
  CREATE TABLE device_history (
    id INTEGER PRIMARY KEY, device_id TEXT NOT NULL REFERENCES devices(id), at TEXT NOT NULL,
    kind TEXT NOT NULL, body TEXT NOT NULL);
  CREATE INDEX device_history_device ON device_history(device_id, kind, id);
  CREATE INDEX device_history_at ON device_history(at);
  CREATE INDEX events_device_type_at ON events(device_id, type, at);
`,
};
