import type { ConsoleMigration } from './migration.js';

/**
 * Issue 16: device groups as console objects, named policies with revisions, assignments in
 * precedence order, enrollment tokens' default groups and device ownership. The same SQL
 * text serves both engines. The one-time data step (today's single policy becomes the
 * baseline) is code, run by the policy plane at start (policies/plane-migration.ts).
 */
const TABLES = `
  CREATE TABLE device_groups (
    name TEXT PRIMARY KEY, display_name TEXT NOT NULL, description TEXT, rules TEXT NOT NULL);
  CREATE TABLE group_devices (
    group_name TEXT NOT NULL REFERENCES device_groups(name) ON UPDATE CASCADE ON DELETE CASCADE,
    device_id TEXT NOT NULL, PRIMARY KEY (group_name, device_id));
  CREATE INDEX group_devices_device ON group_devices(device_id);
  CREATE TABLE enroll_token_groups (
    token_id TEXT NOT NULL REFERENCES enroll_tokens(id),
    group_name TEXT NOT NULL REFERENCES device_groups(name) ON UPDATE CASCADE ON DELETE CASCADE,
    PRIMARY KEY (token_id, group_name));
  CREATE TABLE device_ownership (device_id TEXT PRIMARY KEY REFERENCES devices(id), ownership TEXT NOT NULL);
  CREATE TABLE named_policies (
    name TEXT PRIMARY KEY, display_name TEXT NOT NULL, description TEXT, revision INTEGER NOT NULL);
  CREATE TABLE policy_revisions (
    policy TEXT NOT NULL REFERENCES named_policies(name), revision INTEGER NOT NULL, author TEXT NOT NULL,
    at TEXT NOT NULL, reason TEXT, change TEXT NOT NULL, rolled_back_to INTEGER, content TEXT NOT NULL,
    PRIMARY KEY (policy, revision));
  CREATE TABLE policy_assignments (
    policy TEXT NOT NULL REFERENCES named_policies(name),
    group_name TEXT NOT NULL REFERENCES device_groups(name) ON UPDATE CASCADE,
    precedence INTEGER NOT NULL UNIQUE, PRIMARY KEY (policy, group_name));
`;

export const migration: ConsoleMigration = {
  version: 6,
  name: 'policy-plane',
  up: TABLES,
  postgres: TABLES,
};
