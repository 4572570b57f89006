import { z } from 'zod';
import { OwnershipSchema } from './session.js';
import { boundedText } from './text.js';

/** Bodies of the `session.*` events (src/shared/events.ts). Browser-safe. */

export const SessionReasonSchema = z.enum(['idle', 'locked-too-long', 'schedule', 'command', 'aup-declined']);
export type SessionReason = z.infer<typeof SessionReasonSchema>;

export const SessionActionDataSchema = z.strictObject({
  action: z.enum(['lock', 'warn', 'cancel-warning', 'postpone', 'logoff', 'message']),
  reason: SessionReasonSchema.nullable(),
  ok: z.boolean(),
  /** The mechanism used (`i3lock`, `loginctl`, `xmessage`, `kill-session-processes`...). */
  backend: boundedText(64).nullable(),
  detail: boundedText(512),
});

export const SessionBackendsDataSchema = z.strictObject({
  platform: boundedText(16),
  ownership: OwnershipSchema,
  idle: boundedText(64).nullable(),
  lockers: z.array(boundedText(64)).max(16),
  logoff: z.array(boundedText(64)).max(16),
  warning: boundedText(64).nullable(),
});
export type SessionBackendsData = z.infer<typeof SessionBackendsDataSchema>;

export const SessionProblemDataSchema = z.strictObject({
  kind: z.enum(['no-locker', 'lock-failed', 'no-idle-source', 'logoff-failed', 'policy-invalid', 'clock-jump', 'warning-failed']),
  detail: boundedText(512),
});
export type SessionProblemKind = z.infer<typeof SessionProblemDataSchema>['kind'];
