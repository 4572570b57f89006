import { z } from 'zod';
import { ActivityPrivacyModeSchema } from './activity.js';
import { parseCidr } from './cidr.js';
import { WeekdaySchema } from './session.js';

/**
 * The `activity` section of a policy (docs/activity.md). Absent: nothing is collected.
 * Browser-safe (no Node imports): the console validates it when a policy is published, the
 * agent when it applies it, and the tray reads it to tell the pupil what is shared.
 */

/** Patterns are short, few and simple, because they run against every title once a second. */
export const REDACTION_LIMITS = { patterns: 32, patternLength: 200 } as const;

/**
 * Why a pattern is refused, or null if it is safe to run. JavaScript has no linear-time regex
 * engine, so we refuse what can backtrack catastrophically: a repeated group that itself holds
 * a repetition or an alternation (`(a+)+`, `(a|aa)*`), and back-references. Titles are also
 * bounded (1 KB) before any pattern sees them.
 */
export function unsafePatternReason(pattern: string): string | null {
  try {
    new RegExp(pattern, 'giu');
  } catch (error) {
    return `not a valid regular expression (${(error as Error).message})`;
  }
  if (/\\[1-9]|\\k</.test(pattern)) return 'back-references are not allowed';
  // Walk the pattern: for each open group, remember whether it holds a quantifier or `|`.
  const groups: { risky: boolean }[] = [];
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\') {
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '[') inClass = true;
    else if (c === '(') groups.push({ risky: false });
    else if (c === '|' && groups.length) groups.at(-1)!.risky = true;
    else if (c === ')') {
      const group = groups.pop();
      const quantified = /^([*+]|\{\d*,?\d*\})/.test(pattern.slice(i + 1));
      if (group?.risky && quantified) return 'a repeated group may not itself contain a repetition or an alternation (it could take forever on some titles)';
      if (groups.length && (group?.risky || quantified)) groups.at(-1)!.risky = true;
    } else if ((c === '*' || c === '+' || c === '{' || (c === '?' && pattern[i - 1] !== '(')) && groups.length) groups.at(-1)!.risky = true;
  }
  return null;
}

const RedactionPatternSchema = z
  .string()
  .min(1)
  .max(REDACTION_LIMITS.patternLength)
  .superRefine((pattern, ctx) => {
    const reason = unsafePatternReason(pattern);
    if (reason) ctx.addIssue({ code: 'custom', message: `redaction pattern ${JSON.stringify(pattern.slice(0, 40))}: ${reason}` });
  });

const HHMM = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'not a 24-hour HH:MM time');

/** A block of school time in the device's local time; `end` is exclusive and after `start`. */
export const SchoolHoursSchema = z
  .strictObject({
    days: z.array(WeekdaySchema).min(1).max(7).default(['mon', 'tue', 'wed', 'thu', 'fri']),
    start: HHMM,
    end: HHMM,
  })
  .refine((h) => h.end > h.start, { message: 'end must be after start (same day)', path: ['end'] });
export type SchoolHours = z.infer<typeof SchoolHoursSchema>;

/** "a.b.c.d/n" or an IPv6 prefix. */
const CidrSchema = z
  .string()
  .max(64)
  .refine((s) => parseCidr(s) !== null, 'not an address range like 10.20.0.0/16 or fd00::/8');

/**
 * How a BYOD device knows it is on the school network. Every test given must pass: an address
 * of this device inside one of `cidrs`, and/or a TCP connection to `probe` (the console's
 * internal address, say) succeeding.
 */
export const SchoolNetworkSchema = z
  .strictObject({
    cidrs: z.array(CidrSchema).min(1).max(64).optional(),
    probe: z
      .strictObject({
        host: z
          .string()
          .min(1)
          .max(253)
          .regex(/^[A-Za-z0-9.:-]+$/, 'a host name or address'),
        port: z.number().int().min(1).max(65535),
      })
      .optional(),
  })
  .refine((n) => n.cidrs || n.probe, 'give cidrs, a probe, or both');
export type SchoolNetwork = z.infer<typeof SchoolNetworkSchema>;

export const ActivityPolicySchema = z.strictObject({
  mode: ActivityPrivacyModeSchema,
  /** Parts of titles (and URLs) matching any of these are replaced by "[hidden]"; case-insensitive. */
  redactTitles: z.array(RedactionPatternSchema).max(REDACTION_LIMITS.patterns).default([]),
  /** No input for this long counts as idle/away (ActivityWatch's default is 3 minutes). */
  idleAfterSeconds: z.number().int().min(10).max(3600).default(180),
  /** Closed spans are sent in batches this often (sooner when a batch fills). */
  batchSeconds: z.number().int().min(1).max(3600).default(60),
  /**
   * BYOD devices collect only inside school hours AND on the school network. Without this
   * block a BYOD device collects nothing. School-owned devices ignore it.
   */
  byod: z
    .strictObject({
      schoolHours: z.array(SchoolHoursSchema).max(32).default([]),
      schoolNetwork: SchoolNetworkSchema.optional(),
    })
    .optional(),
});
export type ActivityPolicy = z.infer<typeof ActivityPolicySchema>;

/** What applies when a policy has no `activity` section: nothing is collected. */
export const ACTIVITY_OFF: ActivityPolicy = ActivityPolicySchema.parse({ mode: 'off' });

/** The compiled redaction patterns; each was checked by `unsafePatternReason`. */
export function compileRedactions(patterns: readonly string[]): RegExp[] {
  return patterns.map((p) => new RegExp(p, 'giu'));
}

export const REDACTED = '[hidden]';

export function redact(text: string, patterns: readonly RegExp[]): string {
  return patterns.reduce((out, re) => out.replace(re, REDACTED), text);
}
