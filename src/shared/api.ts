import { z } from 'zod';
import { ActivityNowSchema, PresenceSchema } from './activity.js';
import { GroupNameSchema, Sha256HexSchema } from './app-rules.js';
import { PolicyDocumentSchema } from './policy.js';
import { PolicyNameSchema, TokenGroupsSchema } from './policies/model.js';
import { RoleSchema } from './roles.js';
import { Base64PublicKey, SignatureSchema } from './signed.js';
import { DeviceStatusSchema, PlatformSchema } from './status.js';
import { boundedText, IsoDateTime, UuidSchema } from './text.js';

/** Request and response bodies of the console's HTTP API (`/api/v1`). */

export const Username = z.string().regex(/^[a-z0-9][a-z0-9._-]{1,63}$/, 'usernames are 2-64 lower-case letters, digits, ".", "_" or "-"');
export const Password = z.string().min(12, 'passwords need at least 12 characters').max(1024);

export const LoginRequestSchema = z.strictObject({
  username: z.string().max(64),
  password: z.string().max(1024),
  /** The second factor (a TOTP code or a recovery code), when the account has one. */
  code: z.string().max(32).optional(),
});
export const LoginResponseSchema = z.strictObject({
  token: z.string(),
  username: z.string(),
  role: RoleSchema,
  expiresAt: IsoDateTime,
  /** The session may only set up the second factor the role requires. */
  restricted: z.boolean().optional(),
});

export const CreateUserRequestSchema = z.strictObject({ username: Username, password: Password, role: RoleSchema });

export const EnrollPayloadSchema = z.strictObject({
  deviceId: UuidSchema,
  publicKey: Base64PublicKey,
  hostname: boundedText(255),
  platform: PlatformSchema,
  /** sha256 of the OS machine id: a clone-detection hint, never the identity. */
  machineIdHint: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .nullable(),
  requestedAt: IsoDateTime,
});
export const EnrollRequestSchema = z.strictObject({
  token: z.string().min(16).max(256),
  payload: EnrollPayloadSchema,
  /** Proof that the caller holds the private half of `payload.publicKey`. */
  signature: SignatureSchema,
});
export type EnrollRequest = z.infer<typeof EnrollRequestSchema>;
export const EnrollResponseSchema = z.strictObject({
  deviceId: UuidSchema,
  consolePublicKey: Base64PublicKey,
  agentPath: z.string(),
});
export type EnrollResponse = z.infer<typeof EnrollResponseSchema>;

export const CreateEnrollTokenRequestSchema = z.strictObject({
  label: boundedText(120),
  expiresInHours: z
    .number()
    .int()
    .min(1)
    .max(24 * 365)
    .default(24 * 30),
  maxUses: z.number().int().min(1).max(100_000).nullable().default(null),
  /** Console groups every device enrolled with this token joins (docs/policies.md). */
  groups: TokenGroupsSchema.optional(),
});

export const PolicyPushRequestSchema = z.strictObject({
  policy: PolicyDocumentSchema,
  expiresInDays: z.number().int().min(1).max(365).default(90),
  /** What to do with rules added on the console that the file does not keep (docs/policies.md). */
  mode: z.enum(['refuse', 'keep-console-rules', 'replace']).default('refuse'),
});
export const PolicyPushResponseSchema = z.strictObject({
  version: z.number().int().positive(),
  keyId: z.string(),
  deliveredTo: z.number().int().nonnegative(),
  /** The named policy the document went onto, and the revision it made. */
  policy: PolicyNameSchema,
  revision: z.number().int().positive().optional(),
});

/** A pupil's request to run a program, as the console queues it (from an app.permission-requested event). */
export const AppRequestStatusSchema = z.enum(['pending', 'approved', 'declined']);
export const AppRequestSchema = z.strictObject({
  id: UuidSchema,
  deviceId: UuidSchema,
  hostname: z.string(),
  requestedAt: IsoDateTime,
  name: z.string(),
  path: z.string(),
  sha256: Sha256HexSchema,
  signer: z.string(),
  user: z.string().nullable(),
  reason: z.string().nullable(),
  status: AppRequestStatusSchema,
  decidedBy: z.string().nullable(),
  decidedAt: IsoDateTime.nullable(),
  note: z.string().nullable(),
  /** The policy version that carries the approving rule. */
  policyVersion: z.number().int().positive().nullable(),
});
export type AppRequest = z.infer<typeof AppRequestSchema>;

/**
 * Approving adds an allow rule to the latest policy and publishes it. By hash (default): exactly
 * this file. By signer: everything from its publisher / Team ID (only when the device reported
 * one). With an expiry the rule is a time-boxed exception; with groups it applies only there.
 */
export const AppRequestApproveSchema = z.strictObject({
  by: z.enum(['hash', 'signer']).default('hash'),
  expiresAt: IsoDateTime.optional(),
  groups: z.array(GroupNameSchema).min(1).max(64).optional(),
  note: boundedText(500).optional(),
  /** The named policy the rule goes into (default: the approvals policy, created on first use). */
  policy: PolicyNameSchema.optional(),
});
export const AppRequestDeclineSchema = z.strictObject({ note: boundedText(500).optional() });

/**
 * AUP status of a device for the dashboard. not-required: the policy names no AUP variant (or
 * none is published); no-user: nobody is signed in at the seat.
 */
export const DeviceAupStatusSchema = z.enum(['accepted', 'not-accepted', 'not-required', 'no-user']);
export type DeviceAupStatus = z.infer<typeof DeviceAupStatusSchema>;
export const DeviceBlocksSchema = z.strictObject({
  /** Blocks in the last 24 hours (counted from events the console holds). */
  count24h: z.number().int().nonnegative(),
  lastName: z.string().nullable(),
  lastAt: IsoDateTime.nullable(),
});
export type DeviceBlocks = z.infer<typeof DeviceBlocksSchema>;

/** One row of a device's status history: a status snapshot that differed from the previous, or a presence change. */
export const DeviceHistoryEntrySchema = z.discriminatedUnion('kind', [
  z.strictObject({ at: IsoDateTime, kind: z.literal('status'), status: DeviceStatusSchema }),
  z.strictObject({ at: IsoDateTime, kind: z.literal('presence'), presence: PresenceSchema }),
]);
export type DeviceHistoryEntry = z.infer<typeof DeviceHistoryEntrySchema>;
export const DeviceHistoryResponseSchema = z.strictObject({ history: z.array(DeviceHistoryEntrySchema) });

/** `POST /api/v1/devices/:id/policy-refresh`: the current policy sent again to one device. */
export const PolicyRefreshResponseSchema = z.strictObject({ delivered: z.boolean(), version: z.number().int().positive() });

export const DeviceSummarySchema = z.strictObject({
  id: UuidSchema,
  hostname: z.string(),
  platform: z.string(),
  online: z.boolean(),
  lastSeenAt: IsoDateTime.nullable(),
  enrolledAt: IsoDateTime,
  revoked: z.boolean(),
  cloneSuspect: z.boolean(),
  agentVersion: z.string().nullable(),
  policyVersion: z.number().int().nullable(),
  status: DeviceStatusSchema.nullable(),
  /** online / offline / asleep (the device said it was suspending before it went quiet). */
  presence: PresenceSchema,
  /** The latest live session state, while online; null when unknown or offline. */
  activity: ActivityNowSchema.nullable(),
  /** Whether the signed-in user has accepted the current AUP of this device's variant. */
  aup: DeviceAupStatusSchema.optional(),
  /** Programs application control stopped here lately (from app.blocked events). */
  blocks: DeviceBlocksSchema.optional(),
  /**
   * What the connected agent said it can do in its hello (e.g. "session", "commands"); empty
   * while offline. A claim: the dashboard offers commands by it, the device still decides.
   */
  capabilities: z.array(z.string().max(64)).max(32).optional(),
  /** Frames from this device the console dropped over its per-type budgets (since the console started). */
  framesDropped: z.number().int().nonnegative().optional(),
});
export type DeviceSummary = z.infer<typeof DeviceSummarySchema>;

export const DeviceListResponseSchema = z.object({
  devices: z.array(DeviceSummarySchema),
  /** The latest published policy version, so the dashboard can say whether a device is current. */
  currentPolicyVersion: z.number().int().positive().nullable().optional(),
  /** Console device groups (name -> member device ids: listed and matched by membership rules), for filtering. */
  groups: z.record(z.string(), z.array(z.string())).optional(),
});

/** Server-sent events on `/api/v1/feed`: the dashboard's live updates. */
export const FeedMessageSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('device'), device: DeviceSummarySchema }),
  z.strictObject({ kind: z.literal('policy'), version: z.number().int().positive() }),
  /** The application-request queue changed (a new request, a decision): open queue pages reload it. */
  z.strictObject({ kind: z.literal('app-requests') }),
]);
export type FeedMessage = z.infer<typeof FeedMessageSchema>;

/**
 * /etc/vigil/enroll.json, written by installers (MSI/pkg/deb parameters) so the service can
 * enroll on first start without anyone typing a token.
 */
export const EnrollFileSchema = z.strictObject({
  consoleUrl: z.url({ protocol: /^https?$/ }),
  enrollToken: z.string().min(16).max(256),
  consolePublicKey: Base64PublicKey.optional(),
});
export type EnrollFile = z.infer<typeof EnrollFileSchema>;

/**
 * `POST /api/v1/devices/:id/uninstall`: the package's removal script tells the console the
 * device is going away, signed with the device key (purpose 'uninstall'); the console revokes
 * the device and audits it. Replaying it later changes nothing (the device is already revoked).
 */
export const UninstallPayloadSchema = z.strictObject({
  deviceId: UuidSchema,
  reason: z.enum(['package-removed']),
  sentAt: IsoDateTime,
});
export const UninstallNoticeSchema = z.strictObject({ payload: UninstallPayloadSchema, signature: SignatureSchema });
export type UninstallNotice = z.infer<typeof UninstallNoticeSchema>;
export const UninstallResponseSchema = z.strictObject({ revoked: z.literal(true), changed: z.boolean() });
