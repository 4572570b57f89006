import type { ConsoleMigration } from './migration.js';

/**
 * Staff sign-in (issue 14): where an account comes from and when it last signed in; how each
 * session was started; provider identities linked by (issuer, subject), never by an e-mail
 * string; TOTP secrets with the last accepted time step (a code is good once); one-time recovery
 * codes, stored only as hashes.
 */
export const migration: ConsoleMigration = {
  version: 7,
  name: 'sign-in',
  up: `
  ALTER TABLE users ADD COLUMN source TEXT NOT NULL DEFAULT 'local';
  ALTER TABLE users ADD COLUMN last_sign_in_at TEXT;
  ALTER TABLE sessions ADD COLUMN method TEXT NOT NULL DEFAULT 'password';
  ALTER TABLE sessions ADD COLUMN restricted INTEGER NOT NULL DEFAULT 0;
  CREATE INDEX sessions_username ON sessions(username);
  CREATE TABLE identities (
    issuer TEXT NOT NULL, subject TEXT NOT NULL, username TEXT NOT NULL REFERENCES users(username),
    email TEXT, linked_at TEXT NOT NULL, PRIMARY KEY (issuer, subject));
  CREATE INDEX identities_username ON identities(username);
  CREATE TABLE totp_secrets (
    username TEXT PRIMARY KEY REFERENCES users(username), secret TEXT NOT NULL, created_at TEXT NOT NULL,
    confirmed_at TEXT, last_step INTEGER NOT NULL DEFAULT 0);
  CREATE TABLE recovery_codes (
    username TEXT NOT NULL REFERENCES users(username), code_hash TEXT NOT NULL, used_at TEXT,
    PRIMARY KEY (username, code_hash));
`,
  postgres: `
  ALTER TABLE users ADD COLUMN source TEXT NOT NULL DEFAULT 'local';
  ALTER TABLE users ADD COLUMN last_sign_in_at TEXT;
  ALTER TABLE sessions ADD COLUMN method TEXT NOT NULL DEFAULT 'password';
  ALTER TABLE sessions ADD COLUMN restricted INTEGER NOT NULL DEFAULT 0;
  CREATE INDEX sessions_username ON sessions(username);
  CREATE TABLE identities (
    issuer TEXT NOT NULL, subject TEXT NOT NULL, username TEXT NOT NULL REFERENCES users(username),
    email TEXT, linked_at TEXT NOT NULL, PRIMARY KEY (issuer, subject));
  CREATE INDEX identities_username ON identities(username);
  CREATE TABLE totp_secrets (
    username TEXT PRIMARY KEY REFERENCES users(username), secret TEXT NOT NULL, created_at TEXT NOT NULL,
    confirmed_at TEXT, last_step BIGINT NOT NULL DEFAULT 0);
  CREATE TABLE recovery_codes (
    username TEXT NOT NULL REFERENCES users(username), code_hash TEXT NOT NULL, used_at TEXT,
    PRIMARY KEY (username, code_hash));
`,
};
