import { z } from 'zod';
import { ActivitySpansDataSchema } from './activity.js';
import { ExecModeSchema, Sha256HexSchema } from './app-rules.js';
import { AupReceiptSchema } from './aup.js';
import { CommandOutcomeSchema } from './command.js';
import { WatcherKindSchema } from './exec.js';
import { ConcernReportedDataSchema } from './concern.js';
import { boundedJson } from './json-depth.js';
import { DELIVERY_ONLY_PROBLEMS } from './policies/delivery.js';
import { SessionActionDataSchema, SessionBackendsDataSchema, SessionProblemDataSchema } from './session-events.js';
import { boundedText, IsoDateTime, UuidSchema } from './text.js';
import { UsbDecisionDataSchema } from './usb-policy.js';

/**
 * A program stopped (enforce) or that would have been stopped (monitor) by application control.
 * `signer` is what the OS reported, or "unknown" (Linux has no code signatures): never guessed.
 */
const AppExecData = z.strictObject({
  name: boundedText(255),
  path: boundedText(4096),
  sha256: Sha256HexSchema.nullable(),
  signer: boundedText(1024),
  user: boundedText(128).nullable(),
  mode: ExecModeSchema,
  reason: boundedText(32),
  ruleId: boundedText(100).nullable(),
  /** Identical events (same program, path and user) folded into this one within the window. */
  repeats: z.number().int().nonnegative(),
});
export type AppExecData = z.infer<typeof AppExecData>;

/** The fallback watcher (no pre-exec gate here) killed a program after it started: how long it lived. */
const AppKilledData = AppExecData.extend({ livedMs: z.number().nonnegative(), watcher: WatcherKindSchema });
export type AppKilledData = z.infer<typeof AppKilledData>;

/** A pupil asks for a program to be allowed (`vigil request-app`). */
export const AppPermissionRequestData = z.strictObject({
  name: boundedText(255),
  path: boundedText(4096),
  sha256: Sha256HexSchema,
  signer: boundedText(1024),
  user: boundedText(128).nullable(),
  reason: boundedText(500).nullable(),
  /** The device's service measured `sha256` and `signer` from the file itself (absent from older agents, whose values are the tray's word). */
  measured: z.literal(true).optional(),
  /** What the pupil's session claimed, when it differs from what was measured. */
  claimed: z.strictObject({ sha256: Sha256HexSchema, signer: boundedText(1024) }).optional(),
});
export type AppPermissionRequest = z.infer<typeof AppPermissionRequestData>;

/**
 * Events travel from the device's durable outbox to the console. `id` is unique everywhere;
 * `seq` is a per-device counter the console uses to store each event exactly once.
 */
const base = {
  id: UuidSchema,
  seq: z.number().int().positive(),
  at: IsoDateTime,
};

/** Why a device's outbox deleted events it never delivered: over its cap, or unreadable rows. */
export const OutboxDropReasonSchema = z.enum(['full', 'unreadable']);
export type OutboxDropReason = z.infer<typeof OutboxDropReasonSchema>;

/**
 * `outbox.dropped`: events the device's outbox deleted without delivering them, since the
 * previous report. Sent ahead of the backlog, so the console hears of the loss first.
 */
export const OutboxDroppedDataSchema = z.strictObject({
  dropped: z.number().int().positive(),
  byReason: z.strictObject({ full: z.number().int().nonnegative(), unreadable: z.number().int().nonnegative() }),
  /** When the first and the last of these were dropped. */
  firstAt: IsoDateTime,
  lastAt: IsoDateTime,
  /** Every event this outbox has dropped since it was created, this report included. */
  total: z.number().int().positive(),
});
export type OutboxDroppedData = z.infer<typeof OutboxDroppedDataSchema>;

export const AgentEventSchema = z.discriminatedUnion('type', [
  z.strictObject({ ...base, type: z.literal('outbox.dropped'), data: OutboxDroppedDataSchema }),
  z.strictObject({ ...base, type: z.literal('agent.started'), data: z.strictObject({ agentVersion: boundedText(64), mode: z.enum(['service', 'user']) }) }),
  z.strictObject({ ...base, type: z.literal('policy.applied'), data: z.strictObject({ version: z.number().int().positive() }) }),
  z.strictObject({
    ...base,
    type: z.literal('policy.rejected'),
    data: z.strictObject({
      version: z.number().int().positive().nullable(),
      // A bundle's own checks, then what delivery adds (policies/delivery.ts: too large, fetch failed, bytes or digest not as announced).
      reason: z.enum(['malformed', 'unknown-signer', 'bad-signature', 'rollback', 'expired', 'not-yet-valid', ...DELIVERY_ONLY_PROBLEMS]),
      detail: boundedText(512),
      keptVersion: z.number().int().positive().nullable(),
    }),
  }),
  z.strictObject({
    ...base,
    type: z.literal('policy.expired'),
    data: z.strictObject({ version: z.number().int().positive(), expiredAt: IsoDateTime }),
  }),
  /** A pupil accepted the AUP on this device: the device-signed receipt. */
  z.strictObject({ ...base, type: z.literal('aup.accepted'), data: z.strictObject({ receipt: AupReceiptSchema }) }),
  z.strictObject({
    ...base,
    type: z.literal('aup.rejected'),
    data: z.strictObject({ reason: z.enum(['malformed', 'bad-signature']), detail: boundedText(512) }),
  }),
  /** A user signed in who must accept the AUP and nothing on the device can show it (no tray): IT sees "AUP pending". */
  z.strictObject({
    ...base,
    type: z.literal('aup.pending'),
    data: z.strictObject({
      user: boundedText(128),
      variant: boundedText(32),
      version: z.number().int().positive(),
      reason: z.enum(['not-accepted', 'new-version']),
      /** The console could not be asked whether the user accepted on another device. */
      offline: z.boolean(),
    }),
  }),
  /** A user declined the AUP; the device logs them off (the session.action event says how that went). */
  z.strictObject({
    ...base,
    type: z.literal('aup.declined'),
    data: z.strictObject({
      user: boundedText(128),
      variant: boundedText(32).nullable(),
      version: z.number().int().positive().nullable(),
      logoff: z.boolean(),
      detail: boundedText(512),
    }),
  }),
  z.strictObject({ ...base, type: z.literal('app.blocked'), data: AppExecData }),
  z.strictObject({ ...base, type: z.literal('app.would-block'), data: AppExecData }),
  z.strictObject({ ...base, type: z.literal('app.killed'), data: AppKilledData }),
  z.strictObject({ ...base, type: z.literal('app.permission-requested'), data: AppPermissionRequestData }),
  /** Session control took an action (lock, warning, logoff...) and why; see session-events.ts. */
  z.strictObject({ ...base, type: z.literal('session.action'), data: SessionActionDataSchema }),
  /** Which OS mechanisms session control uses on this device (sent at start and on change). */
  z.strictObject({ ...base, type: z.literal('session.backends'), data: SessionBackendsDataSchema }),
  /** Something session control could not do or had to work around. */
  z.strictObject({ ...base, type: z.literal('session.problem'), data: SessionProblemDataSchema }),
  /** Closed activity spans (activity.ts), batched through the outbox. */
  z.strictObject({ ...base, type: z.literal('activity.spans'), data: ActivitySpansDataSchema }),
  /** A console command the agent received, and what became of it. */
  z.strictObject({
    ...base,
    type: z.literal('command.received'),
    data: z.strictObject({ id: UuidSchema.nullable(), action: boundedText(32).nullable(), outcome: CommandOutcomeSchema, detail: boundedText(512) }),
  }),
  /** USB drive decisions (docs/usb.md): allowed, blocked (unmounted), made read-only, or allowed although unverified (audit). */
  z.strictObject({ ...base, type: z.literal('usb.allowed'), data: UsbDecisionDataSchema }),
  z.strictObject({ ...base, type: z.literal('usb.blocked'), data: UsbDecisionDataSchema }),
  z.strictObject({ ...base, type: z.literal('usb.read-only'), data: UsbDecisionDataSchema }),
  z.strictObject({ ...base, type: z.literal('usb.audited'), data: UsbDecisionDataSchema }),
  /** A pupil's report for the safeguarding lead: the console stores it apart from other events. */
  z.strictObject({ ...base, type: z.literal('concern.reported'), data: ConcernReportedDataSchema }),
  /** A pupil's tray app stopped and did not come back; what the service did about it. */
  z.strictObject({
    ...base,
    type: z.literal('tray.stopped'),
    data: z.strictObject({ user: boundedText(128), action: z.enum(['restarted', 'locked', 'reported']), ok: z.boolean(), detail: boundedText(512) }),
  }),
  z.strictObject({ ...base, type: z.literal('console.protocol-error'), data: z.strictObject({ detail: boundedText(512) }) }),
  /** Administrator-generated events for checking the delivery pipeline end to end (`vigil agent emit`). */
  z.strictObject({ ...base, type: z.literal('diagnostic.test'), data: z.strictObject({ note: boundedText(256), n: z.number().int().nonnegative() }) }),
]);
export type AgentEvent = z.infer<typeof AgentEventSchema>;
export type AgentEventType = AgentEvent['type'];
/** An event before the outbox has given it an id, sequence number and time. */
export type NewAgentEvent = { [T in AgentEvent as T['type']]: { type: T['type']; data: T['data'] } }[AgentEventType];

/**
 * The envelope every event shares. The console accepts a batch whose envelopes are valid and
 * checks each body separately, so one event it cannot read (say, a type from a newer agent)
 * is set aside and acknowledged instead of blocking everything queued behind it.
 */
export const EventEnvelopeSchema = z.strictObject({
  ...base,
  type: z.string().min(1).max(64),
  data: boundedJson(),
});
export type EventEnvelope = z.infer<typeof EventEnvelopeSchema>;
