import { z } from 'zod';
import { ExecModeSchema } from './app-rules.js';
import { boundedText, IsoDateTime } from './text.js';

export const PlatformSchema = z.enum(['linux', 'win32', 'darwin', 'other']);
export type Platform = z.infer<typeof PlatformSchema>;

/**
 * How application control runs on the device. pre-exec: programs are checked before they start
 * (Linux fanotify gate). fallback: no pre-exec gate can run here (not root, no fanotify, another
 * OS), so a watcher kills unapproved programs just after they start; `detail` names the watcher
 * (proc-connector, proc-poll, wmi, ps-poll) and why there is no gate. none: the policy has no
 * application control, or no mount is marked.
 */
export const AppControlStatusSchema = z.strictObject({
  enforcement: z.enum(['pre-exec', 'fallback', 'none']),
  mode: ExecModeSchema.nullable(),
  detail: boundedText(512).nullable(),
  marks: z.array(boundedText(1024)).max(64),
});
export type AppControlStatus = z.infer<typeof AppControlStatusSchema>;

/**
 * The device's durable outbox: events waiting for the console, and every event it had to drop
 * unsent since it was created (over its cap, unreadable), so a loss is shown, never silent.
 */
export const OutboxStatusSchema = z.strictObject({
  pending: z.number().int().nonnegative(),
  dropped: z.number().int().nonnegative(),
  lastDroppedAt: IsoDateTime.nullable(),
});
export type OutboxStatus = z.infer<typeof OutboxStatusSchema>;

/** What a device reports about itself. Deliberately small: enough for IT, nothing more. */
const count = z.number().int().nonnegative();
/** Tray-socket connections and claims the service refused since it started (every drop counted and shown). */
export const LocalIpcDropsSchema = z.strictObject({
  /** The account already held its share of connections. */
  refusedPerUser: count,
  /** The service already held its maximum of connections. */
  refusedTotal: count,
  /** No complete request within the handshake deadline. */
  handshakeTimeouts: count,
  /** Silent for the idle timeout. */
  idleTimeouts: count,
  /** Hello, idle or power claims from a process that is not the installed tray. */
  notTheTray: count,
});
export type LocalIpcDrops = z.infer<typeof LocalIpcDropsSchema>;
export const newLocalIpcDrops = (): LocalIpcDrops => ({ refusedPerUser: 0, refusedTotal: 0, handshakeTimeouts: 0, idleTimeouts: 0, notTheTray: 0 });

export const DeviceStatusSchema = z.strictObject({
  hostname: boundedText(255),
  os: z.strictObject({
    platform: PlatformSchema,
    release: boundedText(128),
    distro: boundedText(128).nullable(),
    arch: boundedText(32),
  }),
  /**
   * The user signed in at the console seat, if any: with session control, the user of the
   * session the agent controls (null once they sign out); otherwise the system's session list.
   */
  user: boundedText(128).nullable(),
  /** Everyone with a session on the device (remote sessions included), capped. */
  users: z.array(boundedText(128)).max(64),
  uptimeSeconds: z.number().int().nonnegative(),
  agentVersion: boundedText(64),
  policyVersion: z.number().int().positive().nullable(),
  /** Absent from agents older than application control. */
  appControl: AppControlStatusSchema.optional(),
  /** Absent from agents older than issue 15, and from agents that serve no tray socket. */
  localIpc: LocalIpcDropsSchema.optional(),
  /** Absent from agents older than drop counting. */
  outbox: OutboxStatusSchema.optional(),
  collectedAt: IsoDateTime,
});
export type DeviceStatus = z.infer<typeof DeviceStatusSchema>;
