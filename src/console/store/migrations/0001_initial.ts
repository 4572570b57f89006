import type { Migration } from '../../../shared/node/migrations.js';

export const migration: Migration = {
  version: 1,
  name: 'initial',
  up: `
  CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  CREATE TABLE users (
    username TEXT PRIMARY KEY, role TEXT NOT NULL, password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL, disabled INTEGER NOT NULL DEFAULT 0);
  CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY, username TEXT NOT NULL REFERENCES users(username),
    role TEXT NOT NULL, created_at TEXT NOT NULL, expires_at TEXT NOT NULL, last_used_at TEXT NOT NULL);
  CREATE TABLE enroll_tokens (
    id TEXT PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE, label TEXT NOT NULL, created_by TEXT NOT NULL,
    created_at TEXT NOT NULL, expires_at TEXT NOT NULL, max_uses INTEGER, uses INTEGER NOT NULL DEFAULT 0,
    revoked INTEGER NOT NULL DEFAULT 0);
  CREATE TABLE devices (
    id TEXT PRIMARY KEY, public_key TEXT NOT NULL UNIQUE, hostname TEXT NOT NULL, platform TEXT NOT NULL,
    machine_id_hint TEXT, enrolled_at TEXT NOT NULL, enrolled_with TEXT NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0, clone_suspect INTEGER NOT NULL DEFAULT 0,
    online INTEGER NOT NULL DEFAULT 0, last_seen_at TEXT, agent_version TEXT, policy_version INTEGER,
    status_json TEXT);
  CREATE INDEX devices_machine_hint ON devices(machine_id_hint);
  CREATE TABLE events (
    rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, device_id TEXT NOT NULL REFERENCES devices(id),
    seq INTEGER NOT NULL, type TEXT NOT NULL, at TEXT NOT NULL, received_at TEXT NOT NULL, body TEXT NOT NULL);
  CREATE INDEX events_device_seq ON events(device_id, seq);
  CREATE INDEX events_type ON events(type, rowid);
  CREATE INDEX events_received ON events(received_at);
  CREATE TABLE policies (
    version INTEGER PRIMARY KEY, bundle TEXT NOT NULL, document TEXT NOT NULL,
    published_by TEXT NOT NULL, published_at TEXT NOT NULL);
  CREATE TABLE audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
    target TEXT, detail TEXT NOT NULL);
`,
};
