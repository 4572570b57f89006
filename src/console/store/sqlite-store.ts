import Database from 'better-sqlite3';
import { DeviceHistoryEntrySchema, type AppRequest, type DeviceHistoryEntry } from '../../shared/api.js';
import { ActivitySpansDataSchema, type ActivitySpan } from '../../shared/activity.js';
import type { AgentEvent } from '../../shared/events.js';
import { AgentEventSchema } from '../../shared/events.js';
import { PolicyBundleSchema, PolicyDocumentSchema } from '../../shared/policy.js';
import { RoleSchema } from '../../shared/roles.js';
import { DeviceStatusSchema } from '../../shared/status.js';
import type { StationRecord } from '../../shared/usb-policy.js';
import { SignedAupSchema, type AupCoverageRow, type AupReceipt } from '../../shared/aup.js';
import type { Concern, ConcernStatus } from '../../shared/concern.js';
import type {
  AupCoverageFilter,
  AupRecord,
  AuditRecord,
  ConsoleStore,
  DeviceRecord,
  EnrollTokenRecord,
  InsertedEvents,
  PolicyRecord,
  SessionRecord,
  StoredEvent,
  UserRecord,
} from './store.js';

/** Ordered schema migrations; the index + 1 is the schema version stored in user_version. */
const MIGRATIONS = [
  `
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
  `
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
  `
  CREATE TABLE app_requests (
    id TEXT PRIMARY KEY, device_id TEXT NOT NULL REFERENCES devices(id), requested_at TEXT NOT NULL,
    name TEXT NOT NULL, path TEXT NOT NULL, sha256 TEXT NOT NULL, signer TEXT NOT NULL, user TEXT, reason TEXT,
    status TEXT NOT NULL DEFAULT 'pending', decided_by TEXT, decided_at TEXT, note TEXT, policy_version INTEGER);
  CREATE INDEX app_requests_status ON app_requests(status, requested_at);
  `,
  `
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
  // Concerns live here and nowhere else: the events table must never hold a pupil's words.
  `
  CREATE TABLE concerns (
    id TEXT PRIMARY KEY, device_id TEXT NOT NULL REFERENCES devices(id), user TEXT, reported_at TEXT NOT NULL,
    received_at TEXT NOT NULL, category TEXT NOT NULL, text TEXT NOT NULL, wants_contact INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'new', updated_by TEXT, updated_at TEXT, note TEXT);
  CREATE INDEX concerns_status ON concerns(status, reported_at);
  `,
];

/** Activity events are read back for a time range; this many events at most per query. */
const MAX_ACTIVITY_EVENTS_READ = 5000;
/** Spans travel in batches sent after they close, possibly much later (a laptop offline for days). */
const ACTIVITY_LATE_DELIVERY_MS = 7 * 86400_000;

type Row = Record<string, unknown>;

const APP_REQUEST_SELECT = 'SELECT r.*, d.hostname FROM app_requests r JOIN devices d ON d.id = r.device_id';
const CONCERN_SELECT = 'SELECT c.*, d.hostname FROM concerns c JOIN devices d ON d.id = c.device_id';
const nullableText = (value: unknown) => (value === null || value === undefined ? null : String(value));
function toAppRequest(row: Row): AppRequest {
  return {
    id: String(row.id),
    deviceId: String(row.device_id),
    hostname: String(row.hostname),
    requestedAt: String(row.requested_at),
    name: String(row.name),
    path: String(row.path),
    sha256: String(row.sha256),
    signer: String(row.signer),
    user: nullableText(row.user),
    reason: nullableText(row.reason),
    status: String(row.status) as AppRequest['status'],
    decidedBy: nullableText(row.decided_by),
    decidedAt: nullableText(row.decided_at),
    note: nullableText(row.note),
    policyVersion: row.policy_version === null ? null : Number(row.policy_version),
  };
}

function toConcern(row: Row): Concern {
  return {
    id: String(row.id),
    deviceId: String(row.device_id),
    hostname: String(row.hostname),
    user: nullableText(row.user),
    reportedAt: String(row.reported_at),
    category: String(row.category) as Concern['category'],
    text: String(row.text),
    wantsContact: row.wants_contact === 1,
    status: String(row.status) as Concern['status'],
    updatedBy: nullableText(row.updated_by),
    updatedAt: nullableText(row.updated_at),
    note: nullableText(row.note),
  };
}

export class SqliteStore implements ConsoleStore {
  readonly kind = 'sqlite' as const;
  private readonly db: Database.Database;

  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    // NORMAL is durable against process crashes in WAL mode. Event inserts switch to FULL (see
    // insertEvents) because their acknowledgement lets the device delete its copy.
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    this.migrate();
  }

  private migrate(): void {
    const current = this.db.pragma('user_version', { simple: true }) as number;
    if (current > MIGRATIONS.length) {
      throw new Error(`database schema version ${current} is newer than this console understands (${MIGRATIONS.length})`);
    }
    for (let version = current; version < MIGRATIONS.length; version++) {
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[version]!);
        this.db.pragma(`user_version = ${version + 1}`);
      })();
    }
  }

  journalMode(): string {
    return this.db.pragma('journal_mode', { simple: true }) as string;
  }

  async close(): Promise<void> {
    this.db.close();
  }

  async getSetting(key: string): Promise<string | null> {
    const row = this.db.prepare('SELECT value FROM settings WHERE key = ?').get(key) as Row | undefined;
    return row ? String(row.value) : null;
  }
  async setSetting(key: string, value: string): Promise<void> {
    this.db.prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value);
  }

  async createUser(user: UserRecord): Promise<void> {
    this.db
      .prepare('INSERT INTO users (username, role, password_hash, created_at, disabled) VALUES (?, ?, ?, ?, ?)')
      .run(user.username, user.role, user.passwordHash, user.createdAt, user.disabled ? 1 : 0);
  }
  async getUser(username: string): Promise<UserRecord | null> {
    const row = this.db.prepare('SELECT * FROM users WHERE username = ?').get(username) as Row | undefined;
    return row ? toUser(row) : null;
  }
  async listUsers(): Promise<UserRecord[]> {
    return (this.db.prepare('SELECT * FROM users ORDER BY username').all() as Row[]).map(toUser);
  }
  async countUsers(): Promise<number> {
    return Number((this.db.prepare('SELECT COUNT(*) AS n FROM users').get() as Row).n);
  }

  async createSession(s: SessionRecord): Promise<void> {
    this.db
      .prepare('INSERT INTO sessions (token_hash, username, role, created_at, expires_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(s.tokenHash, s.username, s.role, s.createdAt, s.expiresAt, s.lastUsedAt);
  }
  async getSession(tokenHash: string): Promise<SessionRecord | null> {
    const row = this.db.prepare('SELECT * FROM sessions WHERE token_hash = ?').get(tokenHash) as Row | undefined;
    if (!row) return null;
    return {
      tokenHash: String(row.token_hash),
      username: String(row.username),
      role: RoleSchema.parse(row.role),
      createdAt: String(row.created_at),
      expiresAt: String(row.expires_at),
      lastUsedAt: String(row.last_used_at),
    };
  }
  async touchSession(tokenHash: string, lastUsedAt: string): Promise<void> {
    this.db.prepare('UPDATE sessions SET last_used_at = ? WHERE token_hash = ?').run(lastUsedAt, tokenHash);
  }
  async deleteSession(tokenHash: string): Promise<void> {
    this.db.prepare('DELETE FROM sessions WHERE token_hash = ?').run(tokenHash);
  }
  async deleteExpiredSessions(now: string): Promise<number> {
    return this.db.prepare('DELETE FROM sessions WHERE expires_at <= ?').run(now).changes;
  }

  async createEnrollToken(t: EnrollTokenRecord): Promise<void> {
    this.db
      .prepare(
        'INSERT INTO enroll_tokens (id, token_hash, label, created_by, created_at, expires_at, max_uses, uses, revoked) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(t.id, t.tokenHash, t.label, t.createdBy, t.createdAt, t.expiresAt, t.maxUses, t.uses, t.revoked ? 1 : 0);
  }
  async getEnrollTokenByHash(tokenHash: string): Promise<EnrollTokenRecord | null> {
    const row = this.db.prepare('SELECT * FROM enroll_tokens WHERE token_hash = ?').get(tokenHash) as Row | undefined;
    return row ? toEnrollToken(row) : null;
  }
  async listEnrollTokens(): Promise<EnrollTokenRecord[]> {
    return (this.db.prepare('SELECT * FROM enroll_tokens ORDER BY created_at').all() as Row[]).map(toEnrollToken);
  }

  async revokeEnrollToken(id: string): Promise<boolean> {
    return this.db.prepare('UPDATE enroll_tokens SET revoked = 1 WHERE id = ? AND revoked = 0').run(id).changes === 1;
  }

  async enrollDevice(d: DeviceRecord, tokenId: string): Promise<boolean> {
    return this.db.transaction(() => {
      const used = this.db
        .prepare('UPDATE enroll_tokens SET uses = uses + 1 WHERE id = ? AND revoked = 0 AND (max_uses IS NULL OR uses < max_uses)')
        .run(tokenId);
      if (used.changes !== 1) return false;
      this.db
        .prepare(
          `INSERT INTO devices (id, public_key, hostname, platform, machine_id_hint, enrolled_at, enrolled_with)
           VALUES (?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(d.id, d.publicKey, d.hostname, d.platform, d.machineIdHint, d.enrolledAt, d.enrolledWith);
      return true;
    })();
  }
  async getDevice(id: string): Promise<DeviceRecord | null> {
    const row = this.db.prepare('SELECT * FROM devices WHERE id = ?').get(id) as Row | undefined;
    return row ? toDevice(row) : null;
  }
  async listDevices(): Promise<DeviceRecord[]> {
    return (this.db.prepare('SELECT * FROM devices ORDER BY hostname, id').all() as Row[]).map(toDevice);
  }
  async findDevicesByMachineHint(hint: string): Promise<DeviceRecord[]> {
    return (this.db.prepare('SELECT * FROM devices WHERE machine_id_hint = ?').all(hint) as Row[]).map(toDevice);
  }
  async setCloneSuspect(ids: string[]): Promise<void> {
    const stmt = this.db.prepare('UPDATE devices SET clone_suspect = 1 WHERE id = ?');
    this.db.transaction(() => ids.forEach((id) => stmt.run(id)))();
  }
  async revokeDevice(id: string): Promise<boolean> {
    return this.db.prepare('UPDATE devices SET revoked = 1, online = 0 WHERE id = ? AND revoked = 0').run(id).changes === 1;
  }
  async markOnline(id: string, at: string, agentVersion: string | null): Promise<void> {
    this.db
      .prepare('UPDATE devices SET online = 1, last_seen_at = ?, agent_version = COALESCE(?, agent_version) WHERE id = ?')
      .run(at, agentVersion, id);
  }
  async markOffline(id: string, at: string): Promise<void> {
    this.db.prepare('UPDATE devices SET online = 0, last_seen_at = ? WHERE id = ?').run(at, id);
  }
  async markAllOffline(): Promise<void> {
    this.db.prepare('UPDATE devices SET online = 0 WHERE online = 1').run();
  }
  async touchDevices(seen: [id: string, at: string][]): Promise<void> {
    const stmt = this.db.prepare('UPDATE devices SET last_seen_at = ? WHERE id = ?');
    this.db.transaction(() => seen.forEach(([id, at]) => stmt.run(at, id)))();
  }
  async saveStatus(id: string, status: unknown, at: string): Promise<void> {
    this.db.prepare('UPDATE devices SET status_json = ?, last_seen_at = ? WHERE id = ?').run(JSON.stringify(status), at, id);
  }
  async setPolicyVersion(id: string, version: number): Promise<void> {
    this.db.prepare('UPDATE devices SET policy_version = ? WHERE id = ?').run(version, id);
  }

  async insertEvents(deviceId: string, events: AgentEvent[], receivedAt: string): Promise<InsertedEvents> {
    const [result] = await this.insertEventBatch([{ deviceId, events, receivedAt }]);
    return result!;
  }

  async insertEventBatch(entries: { deviceId: string; events: AgentEvent[]; receivedAt: string }[]): Promise<InsertedEvents[]> {
    const insert = this.db.prepare(
      'INSERT INTO events (id, device_id, seq, type, at, received_at, body) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING',
    );
    const seqTaken = this.db.prepare('SELECT 1 FROM events WHERE device_id = ? AND seq = ? AND id <> ? LIMIT 1');
    // On disk before the ack: a power cut of the console must not lose what a device has deleted.
    // One transaction (one fsync) for the whole batch: under load, frames from many devices share it.
    this.db.pragma('synchronous = FULL');
    try {
      return this.db.transaction(() => entries.map((e) => this.insertEventsOf(insert, seqTaken, e.deviceId, e.events, e.receivedAt)))();
    } finally {
      this.db.pragma('synchronous = NORMAL');
    }
  }

  private insertEventsOf(
    insert: Database.Statement,
    seqTaken: Database.Statement,
    deviceId: string,
    events: AgentEvent[],
    receivedAt: string,
  ): InsertedEvents {
    const stored: AgentEvent[] = [];
    const reusedSeqs: number[] = [];
    for (const e of events) {
      // Deduplicate on the event id. A sequence number seen before with a different id means
      // the device lost its last writes (power cut) or its outbox: keep the event, flag it.
      if (seqTaken.get(deviceId, e.seq, e.id)) reusedSeqs.push(e.seq);
      if (insert.run(e.id, deviceId, e.seq, e.type, e.at, receivedAt, JSON.stringify(e)).changes === 1) stored.push(e);
    }
    return { stored, reusedSeqs };
  }
  async listEvents(filter: { deviceId?: string; type?: string; limit: number; beforeSeq?: number }): Promise<StoredEvent[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.deviceId) (where.push('device_id = ?'), args.push(filter.deviceId));
    if (filter.type) (where.push('type = ?'), args.push(filter.type));
    if (filter.beforeSeq) (where.push('seq < ?'), args.push(filter.beforeSeq));
    const sql = `SELECT device_id, received_at, body FROM events ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY rowid DESC LIMIT ?`;
    return (this.db.prepare(sql).all(...args, filter.limit) as Row[]).map((row) => ({
      deviceId: String(row.device_id),
      receivedAt: String(row.received_at),
      event: AgentEventSchema.parse(JSON.parse(String(row.body))),
    }));
  }
  async countEvents(deviceId?: string): Promise<number> {
    const row = deviceId
      ? this.db.prepare('SELECT COUNT(*) AS n FROM events WHERE device_id = ?').get(deviceId)
      : this.db.prepare('SELECT COUNT(*) AS n FROM events').get();
    return Number((row as Row).n);
  }

  async deleteEventsReceivedBefore(iso: string): Promise<number> {
    return this.db.prepare('DELETE FROM events WHERE received_at < ?').run(iso).changes;
  }

  async publishPolicy(build: (version: number) => PolicyRecord): Promise<PolicyRecord> {
    const record = this.db.transaction(() => {
      const built = build(this.highestPolicyVersion() + 1);
      this.db
        .prepare('INSERT INTO policies (version, bundle, document, published_by, published_at) VALUES (?, ?, ?, ?, ?)')
        .run(built.version, JSON.stringify(built.bundle), JSON.stringify(built.document), built.publishedBy, built.publishedAt);
      return built;
    })();
    this.latestPolicyCache = record;
    return record;
  }
  /**
   * Every agent connection asks for the latest policy (heartbeat period, hello, AUP variant), so
   * it is parsed once and kept; this store is its only writer.
   */
  private latestPolicyCache: PolicyRecord | null | undefined = undefined;
  async latestPolicy(): Promise<PolicyRecord | null> {
    if (this.latestPolicyCache !== undefined) return this.latestPolicyCache;
    const row = this.db.prepare('SELECT * FROM policies ORDER BY version DESC LIMIT 1').get() as Row | undefined;
    this.latestPolicyCache = row
      ? {
          version: Number(row.version),
          bundle: PolicyBundleSchema.parse(JSON.parse(String(row.bundle))),
          document: PolicyDocumentSchema.parse(JSON.parse(String(row.document))),
          publishedBy: String(row.published_by),
          publishedAt: String(row.published_at),
        }
      : null;
    return this.latestPolicyCache;
  }
  /** The highest version stored or reserved by the floor: new versions are numbered above it. */
  private highestPolicyVersion(): number {
    const row = this.db
      .prepare(`SELECT MAX(COALESCE((SELECT MAX(version) FROM policies), 0),
                    COALESCE((SELECT CAST(value AS INTEGER) FROM settings WHERE key = 'policy.floor'), 0)) AS v`)
      .get() as Row;
    return Number(row.v);
  }
  async raisePolicyFloor(version: number): Promise<boolean> {
    return this.db.transaction(() => {
      if (version <= this.highestPolicyVersion()) return false;
      this.db.prepare(`INSERT INTO settings (key, value) VALUES ('policy.floor', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`).run(String(version));
      return true;
    })();
  }
  async listPolicies(limit: number): Promise<Omit<PolicyRecord, 'bundle'>[]> {
    return (this.db.prepare('SELECT version, document, published_by, published_at FROM policies ORDER BY version DESC LIMIT ?').all(limit) as Row[]).map(
      (row) => ({
        version: Number(row.version),
        document: PolicyDocumentSchema.parse(JSON.parse(String(row.document))),
        publishedBy: String(row.published_by),
        publishedAt: String(row.published_at),
      }),
    );
  }

  async publishAup(variant: string, build: (version: number) => AupRecord): Promise<AupRecord> {
    const record = this.db.transaction(() => {
      const row = this.db.prepare('SELECT COALESCE(MAX(version), 0) AS v FROM aups WHERE variant = ?').get(variant) as Row;
      const built = build(Number(row.v) + 1);
      this.db
        .prepare('INSERT INTO aups (variant, version, signed, published_by, published_at) VALUES (?, ?, ?, ?, ?)')
        .run(built.variant, built.version, JSON.stringify(built.signed), built.publishedBy, built.publishedAt);
      return built;
    })();
    this.latestAupCache.set(variant, record);
    return record;
  }
  /** Sent to every device on connect; parsed once per variant (this store is the only writer). */
  private readonly latestAupCache = new Map<string, AupRecord | null>();
  async latestAup(variant: string): Promise<AupRecord | null> {
    if (this.latestAupCache.has(variant)) return this.latestAupCache.get(variant)!;
    const row = this.db.prepare('SELECT * FROM aups WHERE variant = ? ORDER BY version DESC LIMIT 1').get(variant) as Row | undefined;
    const record = row ? toAup(row) : null;
    this.latestAupCache.set(variant, record);
    return record;
  }
  async aupVersion(variant: string, version: number): Promise<AupRecord | null> {
    const row = this.db.prepare('SELECT * FROM aups WHERE variant = ? AND version = ?').get(variant, version) as Row | undefined;
    return row ? toAup(row) : null;
  }
  async listAups(): Promise<Omit<AupRecord, 'signed'>[]> {
    return (this.db.prepare('SELECT variant, version, published_by, published_at FROM aups ORDER BY variant, version DESC').all() as Row[]).map((row) => ({
      variant: String(row.variant),
      version: Number(row.version),
      publishedBy: String(row.published_by),
      publishedAt: String(row.published_at),
    }));
  }
  async insertAupReceipt(receipt: AupReceipt, receivedAt: string): Promise<boolean> {
    const p = receipt.payload;
    return (
      this.db
        .prepare(
          `INSERT INTO aup_receipts (device_id, user, variant, version, aup_hash, typed_name, accepted_at, received_at, receipt)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
        )
        .run(p.deviceId, p.user, p.variant, p.version, p.aupHash, p.typedName, p.acceptedAt, receivedAt, JSON.stringify(receipt)).changes === 1
    );
  }
  async aupAcceptedAt(user: string, variant: string, version: number, aupHash: string): Promise<string | null> {
    const row = this.db
      .prepare('SELECT MIN(accepted_at) AS at FROM aup_receipts WHERE variant = ? AND user = ? AND version = ? AND aup_hash = ?')
      .get(variant, user, version, aupHash) as Row | undefined;
    return row?.at ? String(row.at) : null;
  }
  async aupCoverage(filter: AupCoverageFilter): Promise<AupCoverageRow[]> {
    const rows = this.db
      .prepare(
        `SELECT r.variant, r.version, r.user, r.device_id, d.hostname, r.typed_name, r.accepted_at,
                r.version = (SELECT MAX(version) FROM aups a WHERE a.variant = r.variant) AS current
         FROM aup_receipts r JOIN devices d ON d.id = r.device_id
         ${filter.variant ? 'WHERE r.variant = ?' : ''}
         ORDER BY r.variant, r.user, r.version DESC, r.accepted_at`,
      )
      .all(...(filter.variant ? [filter.variant] : [])) as Row[];
    return rows.map((row) => ({
      variant: String(row.variant),
      version: Number(row.version),
      user: String(row.user),
      deviceId: String(row.device_id),
      hostname: String(row.hostname),
      typedName: String(row.typed_name),
      acceptedAt: String(row.accepted_at),
      current: row.current === 1,
    }));
  }

  async appendAudit(entry: Omit<AuditRecord, 'id'>): Promise<void> {
    this.db
      .prepare('INSERT INTO audit (at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)')
      .run(entry.at, entry.actor, entry.action, entry.target, JSON.stringify(entry.detail));
  }
  async insertAppRequest(r: Parameters<ConsoleStore['insertAppRequest']>[0]): Promise<boolean> {
    return (
      this.db
        .prepare(
          `INSERT INTO app_requests (id, device_id, requested_at, name, path, sha256, signer, user, reason)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
        )
        .run(r.id, r.deviceId, r.requestedAt, r.name, r.path, r.sha256, r.signer, r.user, r.reason).changes === 1
    );
  }
  async listAppRequests(filter: { status?: AppRequest['status']; limit: number }): Promise<AppRequest[]> {
    const where = filter.status ? 'WHERE r.status = ?' : '';
    const args = filter.status ? [filter.status, filter.limit] : [filter.limit];
    return (this.db.prepare(`${APP_REQUEST_SELECT} ${where} ORDER BY r.requested_at DESC LIMIT ?`).all(...args) as Row[]).map(toAppRequest);
  }
  async countPendingAppRequests(deviceId: string): Promise<number> {
    return Number((this.db.prepare(`SELECT COUNT(*) AS n FROM app_requests WHERE device_id = ? AND status = 'pending'`).get(deviceId) as Row).n);
  }
  async getAppRequest(id: string): Promise<AppRequest | null> {
    const row = this.db.prepare(`${APP_REQUEST_SELECT} WHERE r.id = ?`).get(id) as Row | undefined;
    return row ? toAppRequest(row) : null;
  }
  async decideAppRequest(id: string, d: Parameters<ConsoleStore['decideAppRequest']>[1]): Promise<boolean> {
    return (
      this.db
        .prepare(`UPDATE app_requests SET status = ?, decided_by = ?, decided_at = ?, note = ?, policy_version = ? WHERE id = ? AND status = 'pending'`)
        .run(d.status, d.decidedBy, d.decidedAt, d.note, d.policyVersion, id).changes === 1
    );
  }
  async insertStationKey(r: Pick<StationRecord, 'id' | 'publicKey' | 'keyId' | 'registeredBy' | 'registeredAt'>): Promise<boolean> {
    const info = this.db
      .prepare('INSERT OR IGNORE INTO station_keys (id, public_key, key_id, registered_by, registered_at) VALUES (?, ?, ?, ?, ?)')
      .run(r.id, r.publicKey, r.keyId, r.registeredBy, r.registeredAt);
    return info.changes === 1;
  }
  async listStationKeys(): Promise<StationRecord[]> {
    return (this.db.prepare('SELECT * FROM station_keys ORDER BY registered_at, id').all() as Row[]).map((row) => ({
      id: String(row.id),
      publicKey: String(row.public_key),
      keyId: String(row.key_id),
      registeredBy: String(row.registered_by),
      registeredAt: String(row.registered_at),
      revokedBy: nullableText(row.revoked_by),
      revokedAt: nullableText(row.revoked_at),
    }));
  }
  async revokeStationKey(id: string, by: string, at: string): Promise<boolean> {
    return this.db.prepare('UPDATE station_keys SET revoked_by = ?, revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(by, at, id).changes === 1;
  }
  async appendDeviceHistory(deviceId: string, entry: DeviceHistoryEntry): Promise<void> {
    const { at, kind, ...body } = entry;
    this.db.prepare('INSERT INTO device_history (device_id, at, kind, body) VALUES (?, ?, ?, ?)').run(deviceId, at, kind, JSON.stringify(body));
  }
  async listDeviceHistory(deviceId: string, filter: { limit: number; kind?: DeviceHistoryEntry['kind'] }): Promise<DeviceHistoryEntry[]> {
    const rows = (
      filter.kind
        ? this.db.prepare('SELECT at, kind, body FROM device_history WHERE device_id = ? AND kind = ? ORDER BY id DESC LIMIT ?').all(deviceId, filter.kind, filter.limit)
        : this.db.prepare('SELECT at, kind, body FROM device_history WHERE device_id = ? ORDER BY id DESC LIMIT ?').all(deviceId, filter.limit)
    ) as Row[];
    return rows.flatMap((row) => {
      const parsed = DeviceHistoryEntrySchema.safeParse({ at: row.at, kind: row.kind, ...JSON.parse(String(row.body)) });
      return parsed.success ? [parsed.data] : [];
    });
  }
  async deleteDeviceHistoryBefore(iso: string): Promise<number> {
    return this.db.prepare('DELETE FROM device_history WHERE at < ?').run(iso).changes;
  }
  async listActivitySpans(deviceId: string, filter: { from: string; to: string; maxSpans: number }): Promise<ActivitySpan[]> {
    const from = Date.parse(filter.from);
    const to = Date.parse(filter.to);
    const lastBatch = new Date(to + ACTIVITY_LATE_DELIVERY_MS).toISOString();
    // A batch is sent after its spans end, so batches sent before `from` cannot overlap the range.
    const rows = this.db
      .prepare(`SELECT body FROM events WHERE device_id = ? AND type = 'activity.spans' AND at >= ? AND at < ? ORDER BY at DESC LIMIT ?`)
      .all(deviceId, filter.from, lastBatch, MAX_ACTIVITY_EVENTS_READ) as Row[];
    const spans: ActivitySpan[] = [];
    for (const row of rows) {
      const data = ActivitySpansDataSchema.safeParse((JSON.parse(String(row.body)) as { data?: unknown }).data);
      if (!data.success) continue;
      for (const span of data.data.spans) {
        const start = Date.parse(span.start);
        if (start < to && start + span.durationMs > from) spans.push(span);
      }
    }
    spans.sort((a, b) => Date.parse(a.start) - Date.parse(b.start));
    return spans.slice(-filter.maxSpans);
  }
  async hasAupReceipt(deviceId: string, user: string, variant: string, version: number): Promise<boolean> {
    return !!this.db.prepare('SELECT 1 FROM aup_receipts WHERE device_id = ? AND user = ? AND variant = ? AND version = ?').get(deviceId, user, variant, version);
  }
  async listRecentBlocks(sinceIso: string, limit: number): Promise<{ deviceId: string; at: string; name: string }[]> {
    const rows = this.db
      .prepare(`SELECT device_id, at, json_extract(body, '$.data.name') AS name FROM events WHERE type = 'app.blocked' AND received_at >= ? ORDER BY rowid DESC LIMIT ?`)
      .all(sinceIso, limit) as Row[];
    return rows.reverse().map((row) => ({ deviceId: String(row.device_id), at: String(row.at), name: String(row.name ?? '') }));
  }

  async insertConcern(c: Parameters<ConsoleStore['insertConcern']>[0], receivedAt: string): Promise<boolean> {
    return (
      this.db
        .prepare(
          `INSERT INTO concerns (id, device_id, user, reported_at, received_at, category, text, wants_contact)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
        )
        .run(c.id, c.deviceId, c.user, c.reportedAt, receivedAt, c.category, c.text, c.wantsContact ? 1 : 0).changes === 1
    );
  }
  async listConcerns(filter: { status?: ConcernStatus; limit: number }): Promise<Concern[]> {
    const where = filter.status ? 'WHERE c.status = ?' : '';
    const args = filter.status ? [filter.status, filter.limit] : [filter.limit];
    return (this.db.prepare(`${CONCERN_SELECT} ${where} ORDER BY c.reported_at DESC LIMIT ?`).all(...args) as Row[]).map(toConcern);
  }
  async getConcern(id: string): Promise<Concern | null> {
    const row = this.db.prepare(`${CONCERN_SELECT} WHERE c.id = ?`).get(id) as Row | undefined;
    return row ? toConcern(row) : null;
  }
  async updateConcern(id: string, u: Parameters<ConsoleStore['updateConcern']>[1]): Promise<boolean> {
    return (
      this.db
        .prepare('UPDATE concerns SET status = ?, note = COALESCE(?, note), updated_by = ?, updated_at = ? WHERE id = ?')
        .run(u.status, u.note, u.updatedBy, u.updatedAt, id).changes === 1
    );
  }
  async deleteConcernsClosedBefore(iso: string): Promise<number> {
    return this.db.prepare("DELETE FROM concerns WHERE status = 'closed' AND updated_at < ?").run(iso).changes;
  }
  async listAudit(limit: number): Promise<AuditRecord[]> {
    return (this.db.prepare('SELECT * FROM audit ORDER BY id DESC LIMIT ?').all(limit) as Row[]).map(toAudit);
  }
  async appendAuditOnce(entry: Omit<AuditRecord, 'id'>, idField: string, id: string): Promise<boolean> {
    if (!/^[A-Za-z][A-Za-z0-9]*$/.test(idField)) throw new Error(`bad audit id field ${idField}`);
    // One statement, so two deliveries of the same report cannot both insert.
    return (
      this.db
        .prepare(
          `INSERT INTO audit (at, actor, action, target, detail) SELECT ?, ?, ?, ?, ?
           WHERE NOT EXISTS (SELECT 1 FROM audit WHERE action = ? AND json_extract(detail, '$.${idField}') = ?)`,
        )
        .run(entry.at, entry.actor, entry.action, entry.target, JSON.stringify(entry.detail), entry.action, id).changes === 1
    );
  }
  async listAuditFor(action: string, target: string, limit: number): Promise<AuditRecord[]> {
    return (this.db.prepare('SELECT * FROM audit WHERE action = ? AND target = ? ORDER BY id DESC LIMIT ?').all(action, target, limit) as Row[]).map(toAudit);
  }
}

function toAudit(row: Row): AuditRecord {
  return {
    id: Number(row.id),
    at: String(row.at),
    actor: String(row.actor),
    action: String(row.action),
    target: row.target === null ? null : String(row.target),
    detail: JSON.parse(String(row.detail)) as Record<string, unknown>,
  };
}

function toAup(row: Row): AupRecord {
  return {
    variant: String(row.variant),
    version: Number(row.version),
    signed: SignedAupSchema.parse(JSON.parse(String(row.signed))),
    publishedBy: String(row.published_by),
    publishedAt: String(row.published_at),
  };
}

function toUser(row: Row): UserRecord {
  return {
    username: String(row.username),
    role: RoleSchema.parse(row.role),
    passwordHash: String(row.password_hash),
    createdAt: String(row.created_at),
    disabled: row.disabled === 1,
  };
}

function toEnrollToken(row: Row): EnrollTokenRecord {
  return {
    id: String(row.id),
    tokenHash: String(row.token_hash),
    label: String(row.label),
    createdBy: String(row.created_by),
    createdAt: String(row.created_at),
    expiresAt: String(row.expires_at),
    maxUses: row.max_uses === null ? null : Number(row.max_uses),
    uses: Number(row.uses),
    revoked: row.revoked === 1,
  };
}

function toDevice(row: Row): DeviceRecord {
  const status = row.status_json === null ? null : DeviceStatusSchema.safeParse(JSON.parse(String(row.status_json)));
  return {
    id: String(row.id),
    publicKey: String(row.public_key),
    hostname: String(row.hostname),
    platform: String(row.platform),
    machineIdHint: row.machine_id_hint === null ? null : String(row.machine_id_hint),
    enrolledAt: String(row.enrolled_at),
    enrolledWith: String(row.enrolled_with),
    revoked: row.revoked === 1,
    cloneSuspect: row.clone_suspect === 1,
    online: row.online === 1,
    lastSeenAt: row.last_seen_at === null ? null : String(row.last_seen_at),
    agentVersion: row.agent_version === null ? null : String(row.agent_version),
    policyVersion: row.policy_version === null ? null : Number(row.policy_version),
    status: status?.success ? status.data : null,
  };
}
