import type { Generated } from 'kysely';

/**
 * The console's tables as both engines hold them (store/migrations): text for times (ISO 8601,
 * compared as strings), integers 0/1 for flags, JSON documents as text. Kysely checks every query
 * in store/sql/ against these types, so a renamed column fails the build on both engines at once.
 */
export interface ConsoleTables {
  schema_version: { version: number; name: string; applied_at: string };
  settings: { key: string; value: string };
  users: {
    username: string;
    role: string;
    password_hash: string;
    created_at: string;
    disabled: number;
    source: Generated<string>;
    last_sign_in_at: string | null;
  };
  sessions: {
    token_hash: string;
    username: string;
    role: string;
    created_at: string;
    expires_at: string;
    last_used_at: string;
    method: Generated<string>;
    restricted: Generated<number>;
  };
  enroll_tokens: {
    id: string;
    token_hash: string;
    label: string;
    created_by: string;
    created_at: string;
    expires_at: string;
    max_uses: number | null;
    uses: number;
    revoked: number;
  };
  devices: {
    id: string;
    public_key: string;
    hostname: string;
    platform: string;
    machine_id_hint: string | null;
    enrolled_at: string;
    enrolled_with: string;
    revoked: Generated<number>;
    clone_suspect: Generated<number>;
    online: Generated<number>;
    /** The console process holding it while online (migration 0010). */
    held_by: string | null;
    last_seen_at: string | null;
    agent_version: string | null;
    policy_version: number | null;
    status_json: string | null;
  };
  events: { rowid: Generated<number>; id: string; device_id: string; seq: number; type: string; at: string; received_at: string; body: string };
  console_leases: { process_id: string; expires_at: string };
  /** `bundle_encoded`: the bundle compressed as served (`encoding`); then `bundle` and `document` are empty (migration 11). */
  policies: {
    version: number;
    bundle: string;
    document: string;
    published_by: string;
    published_at: string;
    bundle_encoded: Buffer | null;
    encoding: string | null;
  };
  policy_sets: {
    set_key: string;
    groups: string;
    version: number;
    bundle: string;
    content_digest: string;
    next_change_at: string | null;
    bundle_encoded: Buffer | null;
    encoding: string | null;
  };
  audit: { id: Generated<number>; at: string; actor: string; action: string; target: string | null; detail: string };
  aups: { variant: string; version: number; signed: string; published_by: string; published_at: string };
  aup_receipts: {
    id: Generated<number>;
    device_id: string;
    user: string;
    variant: string;
    version: number;
    aup_hash: string;
    typed_name: string;
    accepted_at: string;
    received_at: string;
    receipt: string;
  };
  app_requests: {
    id: string;
    device_id: string;
    requested_at: string;
    name: string;
    path: string;
    sha256: string;
    signer: string;
    user: string | null;
    reason: string | null;
    status: Generated<string>;
    decided_by: string | null;
    decided_at: string | null;
    note: string | null;
    policy_version: number | null;
  };
  station_keys: {
    id: string;
    public_key: string;
    key_id: string;
    registered_by: string;
    registered_at: string;
    revoked_by: string | null;
    revoked_at: string | null;
  };
  device_history: { id: Generated<number>; device_id: string; at: string; kind: string; body: string };
  concerns: {
    id: string;
    device_id: string;
    user: string | null;
    reported_at: string;
    received_at: string;
    category: string;
    text: string;
    wants_contact: number;
    status: Generated<string>;
    updated_by: string | null;
    updated_at: string | null;
    note: string | null;
  };
  device_groups: { name: string; display_name: string; description: string | null; rules: string };
  group_devices: { group_name: string; device_id: string };
  enroll_token_groups: { token_id: string; group_name: string };
  device_ownership: { device_id: string; ownership: string };
  named_policies: { name: string; display_name: string; description: string | null; revision: number };
  policy_revisions: {
    policy: string;
    revision: number;
    author: string;
    at: string;
    reason: string | null;
    change: string;
    rolled_back_to: number | null;
    content: string;
    /** The whole revision `content` is runs against (sql/revision-storage.ts); null when `content` is whole. */
    base_revision: number | null;
    /** `content` compressed (`encoding`), which is then empty (migration 13). */
    content_encoded: Buffer | null;
    encoding: string | null;
  };
  policy_assignments: { policy: string; group_name: string; precedence: number };
  identities: { issuer: string; subject: string; username: string; email: string | null; linked_at: string };
  totp_secrets: { username: string; secret: string; created_at: string; confirmed_at: string | null; last_step: Generated<number> };
  recovery_codes: { username: string; code_hash: string; used_at: string | null };
}
