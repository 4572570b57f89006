import { z } from 'zod';
import { Sha256HexSchema } from './app-rules.js';
import { ConcernSubmissionSchema } from './concern.js';
import { AppPermissionAskSchema, BlockedProgramSchema, TrayStatusSchema } from './local-ipc.js';

/**
 * The tray pages' bridge to the Electron main process (preload `window.vigilTray`; a stub in
 * the Chromium tests). Browser-safe. Every argument is checked by main with these schemas and
 * every answer by the page; each page may use only the channels listed for it (PAGE_CHANNELS),
 * which main enforces from the sender's URL.
 */
export const TRAY_CHANNELS = {
  status: 'vigil:status',
  lockNow: 'vigil:lock-now',
  requestContext: 'vigil:request-app:context',
  requestApp: 'vigil:request-app',
  reportConcern: 'vigil:report-concern',
  blocked: 'vigil:blocked',
  askPermission: 'vigil:ask-permission',
  close: 'vigil:close',
  aupLoad: 'vigil:aup:load',
  aupAccept: 'vigil:aup:accept',
  aupDecline: 'vigil:aup:decline',
} as const;
export type TrayChannel = (typeof TRAY_CHANNELS)[keyof typeof TRAY_CHANNELS];

/** Page name (its folder under renderer/) -> the channels it may call. */
export const PAGE_CHANNELS: Record<TrayPage, readonly TrayChannel[]> = {
  status: [TRAY_CHANNELS.status, TRAY_CHANNELS.lockNow, TRAY_CHANNELS.close],
  'request-app': [TRAY_CHANNELS.requestContext, TRAY_CHANNELS.requestApp, TRAY_CHANNELS.close],
  concern: [TRAY_CHANNELS.reportConcern, TRAY_CHANNELS.close],
  blocked: [TRAY_CHANNELS.blocked, TRAY_CHANNELS.askPermission, TRAY_CHANNELS.close],
  aup: [TRAY_CHANNELS.aupLoad, TRAY_CHANNELS.aupAccept, TRAY_CHANNELS.aupDecline],
};
export const TrayPageSchema = z.enum(['status', 'request-app', 'concern', 'blocked', 'aup']);
export type TrayPage = z.infer<typeof TrayPageSchema>;

/** Every call answers ok + value, or a message the page shows as it is. */
export const bridgeResult = <T extends z.ZodType>(value: T) =>
  z.discriminatedUnion('ok', [z.strictObject({ ok: z.literal(true), value }), z.strictObject({ ok: z.literal(false), message: z.string().max(500) })]);
export type BridgeResult<T> = { ok: true; value: T } | { ok: false; message: string };

/** The status page's view: the service's status plus what only the tray knows. */
export const StatusViewSchema = z.strictObject({
  service: TrayStatusSchema.nullable(),
  /** Plain sentences saying what is monitored now (built by the tray from `service.monitoring`). */
  monitored: z.array(z.string().max(300)).max(20),
  /** Why the service is out of reach, when it is. */
  serviceProblem: z.string().max(500).nullable(),
  trayVersion: z.string().max(64),
  userMode: z.boolean(),
});
export type StatusView = z.infer<typeof StatusViewSchema>;

export const StatusResultSchema = bridgeResult(StatusViewSchema);
export const LockResultSchema = bridgeResult(z.strictObject({ locked: z.boolean(), detail: z.string().max(512) }));
export const QueuedResultSchema = bridgeResult(z.strictObject({ queued: z.literal(true) }));
/** The blocked program a notice is about. */
export const ProgramResultSchema = bridgeResult(BlockedProgramSchema.nullable());
/** Request-app: the programs blocked recently for this user (newest first) and the one the pupil came from. */
export const RequestContextSchema = z.strictObject({
  programs: z.array(BlockedProgramSchema).max(20),
  selected: Sha256HexSchema.nullable(),
});
export type RequestContext = z.infer<typeof RequestContextSchema>;
export const RequestContextResultSchema = bridgeResult(RequestContextSchema);
export const DoneResultSchema = bridgeResult(z.strictObject({ done: z.literal(true) }));

/**
 * Request-app: which recent block (by hash) and the pupil's optional reason. Main sends the
 * program's details as it recorded them from the service's notice, not as the page says.
 */
export const RequestAppArgSchema = z.strictObject({ sha256: Sha256HexSchema, reason: z.string().max(500).nullable() });
export type RequestAppArg = z.infer<typeof RequestAppArgSchema>;
export const ConcernArgSchema = ConcernSubmissionSchema;
export { AppPermissionAskSchema, BlockedProgramSchema };

/** What `window.vigilTray` offers (each page uses its part; main refuses the rest). */
export interface TrayBridge {
  status(): Promise<unknown>;
  lockNow(): Promise<unknown>;
  requestContext(): Promise<unknown>;
  requestApp(arg: RequestAppArg): Promise<unknown>;
  reportConcern(arg: z.input<typeof ConcernArgSchema>): Promise<unknown>;
  blocked(): Promise<unknown>;
  askPermission(): Promise<unknown>;
  close(): Promise<unknown>;
}
