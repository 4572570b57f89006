import { z } from 'zod';
import { boundedText, IsoDateTime } from './text.js';

/**
 * Activity reporting: what the pupil has in front of them, as the privacy mode allows.
 * full: app + title + URL. app-only: the app name alone (no title, no URL, no path).
 * off: nothing is collected at all.
 */
export const ActivityPrivacyModeSchema = z.enum(['full', 'app-only', 'off']);
export type ActivityPrivacyMode = z.infer<typeof ActivityPrivacyModeSchema>;

/** One foreground window as reported. Fields the mode forbids are null, never empty strings. */
export const ActivityWindowSchema = z.strictObject({
  app: boundedText(255),
  title: boundedText(1024).nullable(),
  url: boundedText(2048).nullable(),
  path: boundedText(4096).nullable(),
});
export type ActivityWindow = z.infer<typeof ActivityWindowSchema>;

/**
 * Identical consecutive samples merged into one span (as ActivityWatch does). `window` is null
 * for idle/away and locked spans.
 */
export const ActivitySpanSchema = z.strictObject({
  start: IsoDateTime,
  durationMs: z
    .number()
    .int()
    .nonnegative()
    .max(24 * 3600 * 1000),
  kind: z.enum(['window', 'idle', 'locked']),
  window: ActivityWindowSchema.nullable(),
});
export type ActivitySpan = z.infer<typeof ActivitySpanSchema>;

/** Event `activity.spans`: closed spans, batched. */
export const ActivitySpansDataSchema = z.strictObject({
  spans: z.array(ActivitySpanSchema).min(1).max(200),
});

/**
 * Why nothing is being collected right now. `wayland`: the session runs Wayland, where
 * get-windows cannot see windows. The console shows this instead of a silent gap.
 */
export const ActivityPauseReasonSchema = z.enum(['policy-off', 'outside-school-hours', 'off-school-network', 'wayland', 'no-session', 'error']);
export type ActivityPauseReason = z.infer<typeof ActivityPauseReasonSchema>;

/**
 * The live state of a device's session, sent as the `activity` frame whenever it changes
 * (coalesced by the agent to at most two a second). Not durable: only the latest matters.
 */
export const ActivityNowSchema = z.strictObject({
  collecting: z.boolean(),
  mode: ActivityPrivacyModeSchema,
  /** Set when `collecting` is false. */
  pausedReason: ActivityPauseReasonSchema.nullable(),
  window: ActivityWindowSchema.nullable(),
  /** Since when `window` has been in front. */
  since: IsoDateTime.nullable(),
  idleSeconds: z.number().int().nonnegative().nullable(),
  locked: z.boolean().nullable(),
  /**
   * Idle past the policy's `idleAfterSeconds` (what the timeline records as an idle span):
   * the grid says "Idle", not "No window in front". Absent from older agents.
   */
  idle: z.boolean().optional(),
});
export type ActivityNow = z.infer<typeof ActivityNowSchema>;

/**
 * Power state. The agent sends `suspending` just before the machine sleeps (logind
 * PrepareForSleep, Electron powerMonitor) so the console can show "asleep" rather than "lost".
 */
export const PowerStateSchema = z.enum(['awake', 'suspending']);
export type PowerState = z.infer<typeof PowerStateSchema>;

/** How the console labels a device in the dashboard. */
export const PresenceSchema = z.enum(['online', 'offline', 'asleep']);
export type Presence = z.infer<typeof PresenceSchema>;

/** A stored span as the console returns it (`GET /api/v1/devices/:id/activity`). */
export const StoredActivitySpanSchema = ActivitySpanSchema.extend({ user: z.string().nullable() });
export const DeviceActivityResponseSchema = z.strictObject({ spans: z.array(StoredActivitySpanSchema) });
