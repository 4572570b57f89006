import { z } from 'zod';
import { ActivityPrivacyModeSchema, ActivityPauseReasonSchema, PowerStateSchema } from './activity.js';
import { Sha256HexSchema } from './app-rules.js';
import { AupAcceptRequestSchema, AupBridgeResultSchema, AupPageDataSchema } from './aup-bridge.js';
import { ConcernSubmissionSchema } from './concern.js';
import { AppControlStatusSchema } from './status.js';
import { boundedText } from './text.js';

/**
 * The local IPC between the tray (one per signed-in user) and the agent service (root / SYSTEM):
 * newline-delimited JSON over a Unix socket (Linux, macOS) or a named pipe (Windows); framing in
 * src/agent/local-ipc/framing.ts. Browser-safe (the tray pages use these types).
 *
 * Who is asking is never part of a message: the service learns the peer's uid from the kernel
 * (SO_PEERCRED) and answers for that user only. The tray, in turn, checks that the socket's
 * peer is root before it sends anything. See docs/tray.md.
 */

/** Where the root service listens (the directory is root-owned, 0755; the socket 0666). */
export const TRAY_SOCKET_PATH = '/run/vigil/tray.sock';
/** The Windows named pipe (ACL in src/agent/local-ipc/win32-pipe.ts). */
export const TRAY_PIPE_NAME = '\\\\.\\pipe\\vigil-tray';

/** Byte caps per line. Requests are small; responses carry the AUP text (up to 200 k characters). */
export const IPC_LIMITS = {
  requestLineBytes: 64 * 1024,
  responseLineBytes: 1024 * 1024,
  /** A client that has not finished a line within this time is dropped. */
  partialLineMs: 10_000,
  /** Connections the service keeps at once, all users together. */
  maxConnections: 256,
  /** Connections one account may hold at once (a tray needs one; the rest are its restarts and probes). */
  maxPerUser: 8,
  /** A new connection must send its first complete request within this time, or it is closed. */
  handshakeMs: 5_000,
  /** A connection that sends nothing for this long is closed (the tray reports idle time every 5 s). */
  idleMs: 60_000,
  /** Answers waiting unread by one connection before the service drops it. */
  unreadBytes: 4 * 1024 * 1024,
  /** Requests one connection may have in progress. */
  maxInFlight: 8,
} as const;

const id = z
  .number()
  .int()
  .nonnegative()
  .max(2 ** 31);

/** A program the pupil asks permission for (from a blocked-program notice). */
export const AppPermissionAskSchema = z.strictObject({
  name: boundedText(255),
  path: boundedText(4096),
  sha256: Sha256HexSchema,
  signer: boundedText(1024),
  reason: boundedText(500).nullable(),
});
export type AppPermissionAsk = z.infer<typeof AppPermissionAskSchema>;

/** Electron's getSystemIdleState answers. */
export const TrayIdleStateSchema = z.enum(['active', 'idle', 'locked', 'unknown']);
export type TrayIdleState = z.infer<typeof TrayIdleStateSchema>;
/** A year: more is not an idle time a session could have (a bad clock or a bad tray). */
export const TRAY_IDLE_MAX_SECONDS = 366 * 86_400;

/** Tray -> service. Each request names an operation; the answer carries the same id. */
export const TrayRequestSchema = z.discriminatedUnion('op', [
  /** The tray of this user's session announces itself (the service watches it from then on). */
  z.strictObject({ id, op: z.literal('hello'), trayVersion: boundedText(64) }),
  z.strictObject({ id, op: z.literal('status') }),
  z.strictObject({ id, op: z.literal('aup.decide') }),
  z.strictObject({ id, op: z.literal('aup.accept'), request: AupAcceptRequestSchema }),
  z.strictObject({ id, op: z.literal('aup.decline') }),
  z.strictObject({ id, op: z.literal('concern.report'), submission: ConcernSubmissionSchema }),
  z.strictObject({ id, op: z.literal('app.request'), ask: AppPermissionAskSchema }),
  z.strictObject({ id, op: z.literal('lock.now') }),
  /** Electron's powerMonitor: the machine is about to sleep, or woke (session's user only). */
  z.strictObject({ id, op: z.literal('power.report'), state: PowerStateSchema }),
  /** Electron's powerMonitor idle reading, sent every few seconds (session's user only). */
  z.strictObject({ id, op: z.literal('idle.report'), idleSeconds: z.number().int().nonnegative().max(TRAY_IDLE_MAX_SECONDS), state: TrayIdleStateSchema }),
]);
export type TrayRequest = z.infer<typeof TrayRequestSchema>;
export type TrayOp = TrayRequest['op'];

/** What is monitored on this device right now, as the service knows it (the tray words it). */
export const MonitoringStateSchema = z.strictObject({
  appControl: AppControlStatusSchema.nullable(),
  /** Session control: idle lock after this many seconds (null: off or not running). */
  idleLockSeconds: z.number().int().nonnegative().nullable(),
  /** Active-window reporting (null while the activity collector is not running on this device). */
  activity: z
    .strictObject({
      collecting: z.boolean(),
      mode: ActivityPrivacyModeSchema,
      pausedReason: ActivityPauseReasonSchema.nullable(),
      /** Exactly what is shared right now, in the pupil's words (describeSharing in activity-words.ts). */
      words: z.strictObject({ headline: boundedText(300), lines: z.array(boundedText(400)).max(12) }).optional(),
    })
    .nullable(),
  usbControl: z.boolean(),
});
export type MonitoringState = z.infer<typeof MonitoringStateSchema>;

export const TrayStatusSchema = z.strictObject({
  /** The account the service bound this connection to (from the kernel, not from the tray). */
  user: boundedText(128),
  mode: z.enum(['service', 'user']),
  consoleConnected: z.boolean(),
  policyVersion: z.number().int().positive().nullable(),
  /** The AUP is waiting for this user (the tray shows "action needed"). */
  aupNeeded: z.boolean(),
  monitoring: MonitoringStateSchema,
});
export type TrayStatus = z.infer<typeof TrayStatusSchema>;

export const IpcErrorCodeSchema = z.enum(['malformed', 'too-large', 'not-your-session', 'unavailable', 'failed', 'busy', 'not-the-tray', 'not-readable']);
export type IpcErrorCode = z.infer<typeof IpcErrorCodeSchema>;

/** Results per operation, checked by the tray against the operation it asked for. */
export const TrayResultSchemas = {
  /**
   * `tray`: whether the kernel shows the peer running the installed tray executable (true/false),
   * or null where the service has no executable to check against (development, Windows).
   */
  hello: z.strictObject({ user: boundedText(128), sessionUser: z.boolean(), tray: z.boolean().nullable() }),
  status: TrayStatusSchema,
  'aup.decide': z.discriminatedUnion('needed', [
    z.strictObject({ needed: z.literal(false), reason: z.enum(['accepted-here', 'accepted-elsewhere', 'no-aup']) }),
    z.strictObject({ needed: z.literal(true), reason: z.enum(['not-accepted', 'new-version']), page: AupPageDataSchema }),
  ]),
  'aup.accept': AupBridgeResultSchema,
  'aup.decline': AupBridgeResultSchema,
  'concern.report': z.strictObject({ queued: z.literal(true) }),
  'app.request': z.strictObject({ queued: z.literal(true) }),
  'lock.now': z.strictObject({ locked: z.boolean(), detail: boundedText(512) }),
  /** `sent`: the console link took the frame now (false while offline: nothing is queued). */
  'power.report': z.strictObject({ sent: z.boolean() }),
  'idle.report': z.strictObject({ recorded: z.literal(true) }),
} as const satisfies Record<TrayOp, z.ZodType>;
export type TrayResult<Op extends TrayOp> = z.infer<(typeof TrayResultSchemas)[Op]>;

/** A blocked program, as the pupil's notice shows it (and asks permission for). */
export const BlockedProgramSchema = z.strictObject({
  name: boundedText(255),
  path: boundedText(4096),
  sha256: Sha256HexSchema.nullable(),
  signer: boundedText(1024),
  mode: z.enum(['enforce', 'monitor']),
});
export type BlockedProgram = z.infer<typeof BlockedProgramSchema>;

/** Service -> tray, unasked: a notice pushed to the trays of the user it concerns. */
export const ServiceNoticeSchema = z.discriminatedUnion('notice', [
  z.strictObject({ kind: z.literal('notice'), notice: z.literal('app.blocked'), program: BlockedProgramSchema }),
  z.strictObject({ kind: z.literal('notice'), notice: z.literal('session.warning'), text: boundedText(500) }),
  z.strictObject({ kind: z.literal('notice'), notice: z.literal('aup.needed') }),
  /** A USB drive was blocked, made read-only or audited: what, why and what to do (src/agent/usb/notices.ts). */
  z.strictObject({ kind: z.literal('notice'), notice: z.literal('usb.drive'), title: boundedText(200), why: boundedText(600), whatToDo: boundedText(400) }),
]);

/** Service -> tray: an answer (ok or error), or a notice. */
export const ServiceMessageSchema = z.union([
  z.strictObject({ kind: z.literal('result'), id, ok: z.literal(true), result: z.unknown() }),
  z.strictObject({ kind: z.literal('result'), id: id.nullable(), ok: z.literal(false), code: IpcErrorCodeSchema, message: boundedText(500) }),
  ServiceNoticeSchema,
]);
export type ServiceMessage = z.infer<typeof ServiceMessageSchema>;
export type ServiceNotice = z.infer<typeof ServiceNoticeSchema>;
