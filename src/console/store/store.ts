import type { StationRecord } from '../../shared/usb-policy.js';
import type { AupCoverageRow, AupReceipt, SignedAup } from '../../shared/aup.js';
import type { AppRequest, DeviceHistoryEntry } from '../../shared/api.js';
import type { Concern, ConcernStatus } from '../../shared/concern.js';
import type { AgentEvent } from '../../shared/events.js';
import type { PolicyBundle, PolicyDocument } from '../../shared/policy.js';
import type { Role } from '../../shared/roles.js';
import type { DeviceStatus } from '../../shared/status.js';
import type { Ownership } from '../../shared/session.js';
import type { AssignmentSet, DeviceGroup, NamedPolicy, PolicyRevision } from '../../shared/policies/model.js';
import type { BundleEncoding } from '../../shared/policies/delivery.js';

export type AccountSource = 'local' | 'sso';
/** How a session was started. */
export type SignInMethod = 'password' | 'password+totp' | 'recovery-code' | 'sso';

export interface UserRecord {
  username: string;
  role: Role;
  /** Empty for accounts that sign in only through the school's identity provider. */
  passwordHash: string;
  createdAt: string;
  disabled: boolean;
  /** Absent means 'local' (accounts created before sign-in by identity provider existed). */
  source?: AccountSource;
  lastSignInAt?: string | null;
}

export interface SessionRecord {
  tokenHash: string;
  username: string;
  role: Role;
  createdAt: string;
  expiresAt: string;
  lastUsedAt: string;
  /** Absent means 'password'. */
  method?: SignInMethod;
  /** A session that may only enrol a second factor (the account's role requires one and it has none). */
  restricted?: boolean;
}

/** A person at the school's identity provider, linked to one console account. */
export interface IdentityRecord {
  issuer: string;
  subject: string;
  username: string;
  /** As the provider said at linking, for people reading the account list; never used to match. */
  email: string | null;
  linkedAt: string;
}

export interface TotpRecord {
  username: string;
  /** Base32 shared secret. */
  secret: string;
  createdAt: string;
  /** Null until the person proves their authenticator with a first code. */
  confirmedAt: string | null;
  /** The last time step a code was accepted for: no code is accepted twice. */
  lastStep: number;
}

export interface EnrollTokenRecord {
  id: string;
  tokenHash: string;
  label: string;
  createdBy: string;
  createdAt: string;
  expiresAt: string;
  maxUses: number | null;
  uses: number;
  revoked: boolean;
}

export interface DeviceRecord {
  id: string;
  publicKey: string;
  hostname: string;
  platform: string;
  machineIdHint: string | null;
  enrolledAt: string;
  enrolledWith: string;
  revoked: boolean;
  cloneSuspect: boolean;
  online: boolean;
  lastSeenAt: string | null;
  agentVersion: string | null;
  policyVersion: number | null;
  status: DeviceStatus | null;
}

export interface StoredEvent {
  deviceId: string;
  event: AgentEvent;
  receivedAt: string;
}

export interface InsertedEvents {
  stored: AgentEvent[];
  reusedSeqs: number[];
}

export interface PolicyRecord {
  version: number;
  bundle: PolicyBundle;
  document: PolicyDocument;
  publishedBy: string;
  publishedAt: string;
  /** The bundle and document as JSON, when the writer has them (a 100,000-rule bundle is not serialised again). */
  json?: { bundle: string; document: string };
  /** The bundle compressed as served, when the writer has it: stored so, in place of both JSON texts. */
  encoded?: StoredBundleBytes;
}

/** A signed bundle's canonical JSON, compressed: what devices fetch. */
export interface StoredBundleBytes {
  bytes: Buffer;
  encoding: BundleEncoding;
}

export interface AupRecord {
  variant: string;
  version: number;
  signed: SignedAup;
  publishedBy: string;
  publishedAt: string;
}

export interface AupCoverageFilter {
  variant?: string;
}

export interface AuditFilter {
  actor?: string;
  action?: string;
  target?: string;
  from?: string;
  to?: string;
  limit: number;
}

export interface AuditRecord {
  id: number;
  at: string;
  actor: string;
  action: string;
  target: string | null;
  detail: Record<string, unknown>;
}

/** Small named values (e.g. the policy version floor). */
export interface SettingsStore {
  getSetting(key: string): Promise<string | null>;
  setSetting(key: string, value: string): Promise<void>;
}

/** Console accounts and their sign-in sessions. */
export interface UserStore {
  createUser(user: UserRecord): Promise<void>;
  getUser(username: string): Promise<UserRecord | null>;
  listUsers(): Promise<UserRecord[]>;
  countUsers(): Promise<number>;

  createSession(session: SessionRecord): Promise<void>;
  getSession(tokenHash: string): Promise<SessionRecord | null>;
  touchSession(tokenHash: string, lastUsedAt: string): Promise<void>;
  deleteSession(tokenHash: string): Promise<void>;
  deleteExpiredSessions(now: string): Promise<number>;

  setUserRole(username: string, role: Role): Promise<boolean>;
  setUserDisabled(username: string, disabled: boolean): Promise<boolean>;
  setPasswordHash(username: string, passwordHash: string): Promise<boolean>;
  recordSignIn(username: string, at: string): Promise<void>;
  /** A user's sessions, newest first. */
  listSessionsFor(username: string): Promise<SessionRecord[]>;
  /** Ends every session of the user; returns how many. */
  deleteSessionsFor(username: string): Promise<number>;
}

/** Identities at the school's OpenID provider, each linked to one console account. */
export interface IdentityStore {
  getIdentity(issuer: string, subject: string): Promise<IdentityRecord | null>;
  /** Fails with a ConflictError if (issuer, subject) is linked already. */
  linkIdentity(identity: IdentityRecord): Promise<void>;
  listIdentitiesFor(username: string): Promise<IdentityRecord[]>;
}

/** Second factors of local accounts: one TOTP secret and its one-time recovery codes. */
export interface SecondFactorStore {
  /** Replaces any unconfirmed secret; a confirmed one must be deleted first. */
  putTotp(record: TotpRecord): Promise<void>;
  getTotp(username: string): Promise<TotpRecord | null>;
  confirmTotp(username: string, at: string, step: number): Promise<boolean>;
  /** Records `step` as used, only if it is later than the last used one (atomically). */
  useTotpStep(username: string, step: number): Promise<boolean>;
  /** Deletes the secret and every recovery code. */
  deleteSecondFactor(username: string): Promise<void>;
  replaceRecoveryCodes(username: string, codeHashes: string[]): Promise<void>;
  /** Marks the code used; false if it is unknown or was used already (atomically). */
  useRecoveryCode(username: string, codeHash: string, at: string): Promise<boolean>;
  countUnusedRecoveryCodes(username: string): Promise<number>;
}

/** Tokens a device presents to enroll. */
export interface EnrollTokenStore {
  createEnrollToken(token: EnrollTokenRecord): Promise<void>;
  getEnrollTokenByHash(tokenHash: string): Promise<EnrollTokenRecord | null>;
  listEnrollTokens(): Promise<EnrollTokenRecord[]>;
  revokeEnrollToken(id: string): Promise<boolean>;
}

/** Enrolled devices: identity, presence and the latest status they reported. */
export interface DeviceStore {
  /**
   * Enrolls a device and counts one use of the token, atomically: a token with uses left can't
   * be over-used by concurrent enrollments. Returns false when the token has run out.
   */
  enrollDevice(device: DeviceRecord, tokenId: string): Promise<boolean>;
  getDevice(id: string): Promise<DeviceRecord | null>;
  listDevices(): Promise<DeviceRecord[]>;
  findDevicesByMachineHint(hint: string): Promise<DeviceRecord[]>;
  setCloneSuspect(ids: string[]): Promise<void>;
  revokeDevice(id: string): Promise<boolean>;
  /**
   * Online, held by the console process `holder` (its bus process id: see PresenceLeaseStore).
   * The hello's agent version and policy version, when given, are written in the same statement:
   * a reconnect storm is thousands of these.
   */
  markOnline(id: string, at: string, agentVersion: string | null, holder: string, policyVersion?: number | null): Promise<void>;
  /**
   * Offline, unless another process holds it now: a disconnect the old process notices late
   * (a ping timeout) does not undo the new process's online.
   */
  markOffline(id: string, at: string, holder: string): Promise<void>;
  markAllOffline(): Promise<void>;
  /** Last-seen times, written in one batch (heartbeats are frequent and soft state). */
  touchDevices(seen: [id: string, at: string][]): Promise<void>;
  saveStatus(id: string, status: DeviceStatus, at: string): Promise<void>;
  /** Which policy version each device applied, written in one batch (acks arrive by the thousand in a rollout). */
  setPolicyVersions(versions: [id: string, version: number][]): Promise<void>;
  /** The hostname the device reports now (group hostname rules follow it). */
  setDeviceHostname(id: string, hostname: string): Promise<void>;
}

/**
 * Each console process's lease on the devices it holds (issue 17): renewed while it runs; once a
 * lease lapses (the process was killed), its devices are marked offline by whichever process
 * sweeps first. An online device whose holder has no live lease is offline.
 */
export interface PresenceLeaseStore {
  /** Extends (or takes) `processId`'s lease; false if it had none (first renewal, or it lapsed and was swept). */
  renewLease(processId: string, expiresAt: string): Promise<boolean>;
  /** Marks these devices online again as held by `processId` (its lease was swept while it still held them). */
  reclaimDevices(processId: string, deviceIds: readonly string[]): Promise<void>;
  /**
   * Marks offline every online device no live lease (expiring after `now`) holds, drops lapsed
   * leases, and returns both. Two processes sweeping at once mark each device once.
   */
  sweepLapsedLeases(now: string): Promise<{ processes: string[]; devices: string[] }>;
  /** A process that stops cleanly gives its lease up. */
  releaseLease(processId: string): Promise<void>;
}

/** Device events (never concerns: see ConcernStore). */
export interface EventStore {
  /** Stores events not seen before (by event id); returns the new ones and any reused sequence numbers. */
  insertEvents(deviceId: string, events: AgentEvent[], receivedAt: string): Promise<InsertedEvents>;
  /** The same for several devices' frames in one durable transaction (group commit); results in order. */
  insertEventBatch(entries: { deviceId: string; events: AgentEvent[]; receivedAt: string }[]): Promise<InsertedEvents[]>;
  listEvents(filter: { deviceId?: string; type?: string; limit: number; beforeSeq?: number }): Promise<StoredEvent[]>;
  countEvents(deviceId?: string): Promise<number>;
  /** Retention: removes events received before the given time; returns how many. */
  deleteEventsReceivedBefore(iso: string): Promise<number>;
  /**
   * The `data` of a device's `activity.spans` events sent in [sentFrom, sentBefore), newest first,
   * at most `limit` (activity-spans.ts picks the spans of a time range out of them).
   */
  listActivityBatches(deviceId: string, filter: { sentFrom: string; sentBefore: string; limit: number }): Promise<unknown[]>;
  /** `app.blocked` events received since the given time (oldest first, capped), for the dashboard's summary. */
  listRecentBlocks(sinceIso: string, limit: number): Promise<{ deviceId: string; at: string; name: string }[]>;
}

/** Signed policy bundles, numbered so that versions only ever increase. */
export interface PolicyStore {
  /**
   * Allocates the next policy version (above every stored version and above the floor) and
   * stores the bundle the callback signs for it.
   */
  publishPolicy(build: (version: number) => PolicyRecord): Promise<PolicyRecord>;
  latestPolicy(): Promise<PolicyRecord | null>;
  /**
   * Devices may hold a version the console no longer has (a database restored from backup).
   * Raising the floor keeps new versions above it, or devices would refuse them as rollbacks.
   */
  raisePolicyFloor(version: number): Promise<boolean>;
  listPolicies(limit: number): Promise<Omit<PolicyRecord, 'bundle'>[]>;
  /**
   * After signing: the bundles of the group sets just signed replace their stored ones, and the
   * fleet's record (the bundle of the devices in no particular group, numbered with the version it
   * was signed at, already allocated) is added to the published policies, in one transaction.
   */
  savePolicySets(sets: StoredPolicySet[], fleet: PolicyRecord | null): Promise<void>;
  /** Every group set's bundle as last signed (a console restarting offers these again). */
  listPolicySets(): Promise<StoredPolicySet[]>;
}

/** One group set's signed bundle (per-group-set delivery, docs/policies.md). */
export interface StoredPolicySet {
  key: string;
  groups: string[];
  bundle: PolicyBundle;
  /** The bundle as JSON, when the writer has it (the publisher keeps its canonical text). */
  bundleJson?: string;
  /** The bundle compressed as served, when the writer has it: stored so instead of its JSON. */
  encoded?: StoredBundleBytes;
  contentDigest: string;
  nextChangeAt: string | null;
}

/** Acceptable-use texts per variant and the receipts devices send for them. */
export interface AupStore {
  /** Allocates the next version of a variant and stores the AUP the callback signs for it. */
  publishAup(variant: string, build: (version: number) => AupRecord): Promise<AupRecord>;
  latestAup(variant: string): Promise<AupRecord | null>;
  aupVersion(variant: string, version: number): Promise<AupRecord | null>;
  listAups(): Promise<Omit<AupRecord, 'signed'>[]>;
  /** Stores a verified receipt; false if this device already recorded this user for this version. */
  insertAupReceipt(receipt: AupReceipt, receivedAt: string): Promise<boolean>;
  aupCoverage(filter: AupCoverageFilter): Promise<AupCoverageRow[]>;
  /** When `user` first accepted this exact AUP text on any device, or null. */
  aupAcceptedAt(user: string, variant: string, version: number, aupHash: string): Promise<string | null>;
  /** Whether this device sent a verified receipt from this user for exactly this AUP version. */
  hasAupReceipt(deviceId: string, user: string, variant: string, version: number): Promise<boolean>;
}

/** The append-only audit log. */
export interface AuditStore {
  appendAudit(entry: Omit<AuditRecord, 'id'>): Promise<void>;
  listAudit(limit: number): Promise<AuditRecord[]>;
  /** Newest first; text fields match a part, case-insensitively; `from`/`to` bound `at` (inclusive). */
  queryAudit(filter: AuditFilter): Promise<AuditRecord[]>;
  /** Appends unless an entry with this action already has detail[idField] === id; false if it had. */
  appendAuditOnce(entry: Omit<AuditRecord, 'id'>, idField: string, id: string): Promise<boolean>;
  /** The newest entries for one action and target, newest first. */
  listAuditFor(action: string, target: string, limit: number): Promise<AuditRecord[]>;
}

/** Pupils' requests to run an application, queued for a decision. */
export interface AppRequestStore {
  /** Queues a pupil's request; false if this event was queued already. */
  insertAppRequest(request: Omit<AppRequest, 'hostname' | 'status' | 'decidedBy' | 'decidedAt' | 'note' | 'policyVersion'>): Promise<boolean>;
  listAppRequests(filter: { status?: AppRequest['status']; limit: number }): Promise<AppRequest[]>;
  countPendingAppRequests(deviceId: string): Promise<number>;
  getAppRequest(id: string): Promise<AppRequest | null>;
  /** Records the decision on a pending request; false if it was no longer pending. */
  decideAppRequest(
    id: string,
    decision: { status: 'approved' | 'declined'; decidedBy: string; decidedAt: string; note: string | null; policyVersion: number | null },
  ): Promise<boolean>;
}

/** Scan-station keys (docs/usb.md). */
export interface StationStore {
  /** Scan-station keys (docs/usb.md). Insert is false when the id or key is already registered. */
  insertStationKey(record: Pick<StationRecord, 'id' | 'publicKey' | 'keyId' | 'registeredBy' | 'registeredAt'>): Promise<boolean>;
  listStationKeys(): Promise<StationRecord[]>;
  revokeStationKey(id: string, by: string, at: string): Promise<boolean>;
}

/** Status snapshots and presence changes per device. */
export interface DeviceHistoryStore {
  /** Status snapshots and presence changes of a device, newest first (see status-history.ts). */
  appendDeviceHistory(deviceId: string, entry: DeviceHistoryEntry): Promise<void>;
  listDeviceHistory(deviceId: string, filter: { limit: number; kind?: DeviceHistoryEntry['kind'] }): Promise<DeviceHistoryEntry[]>;
  /** Every account seen signed in on each device (from its status history), with when last seen. */
  usersSeen(): Promise<{ deviceId: string; user: string; lastSeenAt: string }[]>;
  /** Retention: removes history written before the given time; returns how many rows. */
  deleteDeviceHistoryBefore(iso: string): Promise<number>;
}

/**
 * Pupils' concerns, kept apart from device events (the events table never holds their text).
 */
export interface ConcernStore {
  /** Idempotent on the event id; false if this concern was stored already. */
  insertConcern(concern: Pick<Concern, 'id' | 'deviceId' | 'user' | 'reportedAt' | 'category' | 'text' | 'wantsContact'>, receivedAt: string): Promise<boolean>;
  listConcerns(filter: { status?: ConcernStatus; limit: number }): Promise<Concern[]>;
  getConcern(id: string): Promise<Concern | null>;
  updateConcern(id: string, update: { status: ConcernStatus; note: string | null; updatedBy: string; updatedAt: string }): Promise<boolean>;
  /** Deletes closed concerns last updated before `iso` (retention); returns how many went. Open ones stay. */
  deleteConcernsClosedBefore(iso: string): Promise<number>;
}

/** Device groups (issue 16), enrollment tokens' default groups and device ownership: the facts membership is decided on. */
export interface GroupStore {
  /** Every group with its explicit devices, sorted by name. */
  listGroups(): Promise<DeviceGroup[]>;
  /** Enrollment token id -> the default groups it gives devices enrolled with it. */
  listTokenGroups(): Promise<Map<string, string[]>>;
  /** Device id -> the ownership recorded for it (devices without one are absent). */
  listDeviceOwnership(): Promise<Map<string, Ownership>>;
  /** The ownership recorded for one device (enrolment places one device, not the fleet). */
  deviceOwnership(deviceId: string): Promise<Ownership | null>;
}

/** Named policies (issue 16): each one's current revision, and every revision ever stored. */
export interface NamedPolicyStore {
  listNamedPolicies(): Promise<NamedPolicy[]>;
  getNamedPolicy(name: string): Promise<NamedPolicy | null>;
  /** Newest first, without their content. */
  listPolicyRevisions(policy: string, limit: number): Promise<Omit<PolicyRevision, 'content'>[]>;
  getPolicyRevision(policy: string, revision: number): Promise<PolicyRevision | null>;
}

/** Which policy applies where, and the console-wide policy version counter. */
export interface AssignmentStore {
  /** Null until a baseline policy has been chosen. */
  getAssignments(): Promise<AssignmentSet | null>;
  /**
   * The next policy version, strictly above every version stored or allocated before (the same
   * counter as publishPolicy's, through the `policy.floor` setting), atomically.
   */
  allocatePolicyVersion(): Promise<number>;
}

/**
 * One change of the policy plane, written in one transaction with its audit entries: either all
 * of it is stored or none of it. Parts apply in the order listed, deletions of groups last (after
 * the assignment set that stops naming them).
 */
export interface PolicyChange {
  /** Renames (the explicit devices, token defaults and assignments follow the group). */
  renameGroup?: { from: string; to: string };
  /** Groups created or replaced whole (display name, description, rules, explicit devices). */
  putGroups?: DeviceGroup[];
  /** Replaces a token's default groups. */
  tokenGroups?: { tokenId: string; groups: string[] }[];
  /** Replaces (or, with null, clears) a device's recorded ownership. */
  ownership?: { deviceId: string; ownership: Ownership | null }[];
  /**
   * New revisions, each creating its policy (revision 1) or moving it on by exactly one: a
   * revision that is not the policy's next is refused with ConflictError('stale-revision'), so two
   * writers can never both store "the next" revision.
   */
  revisions?: { displayName: string; description?: string; revision: PolicyRevision }[];
  /** Replaces the whole assignment set. */
  assignments?: AssignmentSet;
  deleteGroups?: string[];
  audit: Omit<AuditRecord, 'id'>[];
}

export interface PolicyChangeStore {
  applyPolicyChange(change: PolicyChange): Promise<void>;
}

/**
 * The console's storage port: one interface per domain, composed. Callers ask for the domains
 * they use (or the whole), so the embedded SQLite store and a PostgreSQL store are
 * interchangeable, and both run the same contract tests (test/unit/store/). Every method is
 * async for that reason, even though SQLite answers synchronously. Failures a caller can act on
 * are typed (../errors.ts); anything else is a bug or an outage.
 */
export interface ConsoleStore
  extends
    SettingsStore,
    UserStore,
    IdentityStore,
    SecondFactorStore,
    EnrollTokenStore,
    DeviceStore,
    PresenceLeaseStore,
    EventStore,
    PolicyStore,
    AupStore,
    AuditStore,
    AppRequestStore,
    StationStore,
    DeviceHistoryStore,
    ConcernStore,
    GroupStore,
    NamedPolicyStore,
    AssignmentStore,
    PolicyChangeStore {
  readonly kind: 'sqlite' | 'postgres';
  /** One round trip to the database (a load balancer's health check asks whether this process can reach it). */
  ping(): Promise<void>;
  close(): Promise<void>;
}
