import { z } from 'zod';

/**
 * The `session` section of a policy: idle lock, idle / locked-too-long logoff, timetabled
 * logoff and the warning before any logoff. Times are in seconds so short values can be
 * tested; 0 turns a control off. Browser-safe (no Node imports).
 */

/** Who owns the device. School-owned and BYOD laptops get separate logoff timetables. */
export const OwnershipSchema = z.enum(['school', 'byod']);
export type Ownership = z.infer<typeof OwnershipSchema>;

export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export const WeekdaySchema = z.enum(WEEKDAYS);

/** Off (0) or between 5 seconds and a day. */
const seconds = (max: number) =>
  z
    .number()
    .int()
    .min(0)
    .max(max)
    .refine((n) => n === 0 || n >= 5, 'must be 0 (off) or at least 5 seconds');

export const ScheduledLogoffSchema = z.strictObject({
  /** Local time on the device, 24-hour HH:MM. */
  time: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'not a 24-hour HH:MM time'),
  days: z.array(WeekdaySchema).min(1).max(7).default(['mon', 'tue', 'wed', 'thu', 'fri']),
});
export type ScheduledLogoff = z.infer<typeof ScheduledLogoffSchema>;

export const SessionPolicySchema = z
  .strictObject({
    lockAfterIdleSeconds: seconds(86_400).default(300),
    logoffAfterIdleSeconds: seconds(86_400).default(0),
    logoffAfterLockedSeconds: seconds(86_400).default(1800),
    scheduledLogoff: z
      .strictObject({
        school: z.array(ScheduledLogoffSchema).max(24).default([]),
        byod: z.array(ScheduledLogoffSchema).max(24).default([]),
      })
      .default({ school: [], byod: [] }),
    /** The countdown shown before every logoff; never 0, so nobody is logged off unwarned. */
    warningSeconds: z.number().int().min(5).max(900).default(60),
    postpone: z
      .strictObject({
        allowed: z.boolean().default(false),
        maxTimes: z.number().int().min(1).max(10).default(1),
        seconds: z.number().int().min(30).max(3600).default(600),
      })
      .default({ allowed: false, maxTimes: 1, seconds: 600 }),
  })
  .refine((s) => s.logoffAfterIdleSeconds === 0 || s.lockAfterIdleSeconds === 0 || s.logoffAfterIdleSeconds > s.lockAfterIdleSeconds, {
    message: 'logoffAfterIdleSeconds must be longer than lockAfterIdleSeconds (or one of them 0)',
    path: ['logoffAfterIdleSeconds'],
  });
export type SessionPolicy = z.infer<typeof SessionPolicySchema>;

/** What the agent enforces when a policy has no `session` section, or one it cannot read. */
export const DEFAULT_SESSION_POLICY: SessionPolicy = SessionPolicySchema.parse({});
