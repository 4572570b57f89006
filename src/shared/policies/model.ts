import { z } from 'zod';
import { ActivityPolicySchema } from '../activity-policy.js';
import { AppActionSchema, AppRuleSchema, ExecModeSchema, GroupNameSchema } from '../app-rules.js';
import { PolicyDocumentSchema } from '../policy.js';
import { POLICY_LIMITS } from '../policy-limits.js';
import { OwnershipSchema, SessionPolicySchema } from '../session.js';
import { IsoDateTime, UuidSchema } from '../text.js';
import { TrayPolicySchema } from '../tray-policy.js';
import { UsbPolicySchema } from '../usb-policy.js';
import { recordKey } from './rule-keys.js';

/**
 * The console's policy model (issue 16, docs/policies.md): device groups with membership rules,
 * named policies made of settings and rule records, assignments of policies to groups in an
 * explicit precedence order, and the revisions every change makes. Browser-safe: the admin
 * pages build their forms on these schemas, and the console and CLI validate with them.
 */

export { GroupNameSchema };

/** Named policies share the group names' alphabet: short, safe in URLs, CSV and shells. */
export const PolicyNameSchema = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'policy names are 1-64 lower-case letters, digits, ".", "_" or "-"');
export type PolicyName = z.infer<typeof PolicyNameSchema>;

const DisplayName = z.string().trim().min(1).max(120);
const Description = z.string().max(2000);
/** Who did something: a console user name, or `system:<job>` for the console's own changes. */
export const ActorSchema = z.string().min(1).max(256);

// ---------------------------------------------------------------- groups

/**
 * A hostname pattern: letters, digits, `-` and `.`, with `*` for any run of characters and `?`
 * for one. Matched case-insensitively against the whole hostname, as DNS names compare.
 */
export const HostnamePatternSchema = z
  .string()
  .min(1)
  .max(POLICY_LIMITS.hostnamePattern)
  .regex(/^[A-Za-z0-9.*?_-]+$/, 'hostname patterns use letters, digits, "-", "_", "." and the wildcards * and ?');

/**
 * A rule the console evaluates to decide membership; a device matching any rule (or listed
 * explicitly) is a member. Rules use facts the console holds itself — the enrollment token the
 * device used and the ownership recorded for it — except the hostname, which the device reports
 * and a hostile device can choose: never make a hostname rule the only thing between a device
 * and a more permissive policy.
 */
export const MembershipRuleSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('enrollment-token'), tokenId: UuidSchema }),
  z.strictObject({ kind: z.literal('ownership'), ownership: OwnershipSchema }),
  z.strictObject({ kind: z.literal('hostname'), pattern: HostnamePatternSchema }),
]);
export type MembershipRule = z.infer<typeof MembershipRuleSchema>;

export const DeviceGroupSchema = z.strictObject({
  name: GroupNameSchema,
  displayName: DisplayName,
  description: Description.optional(),
  /** Devices placed in the group by hand. */
  devices: z.array(UuidSchema).max(100_000).default([]),
  rules: z.array(MembershipRuleSchema).max(POLICY_LIMITS.membershipRules).default([]),
});
export type DeviceGroup = z.infer<typeof DeviceGroupSchema>;
export type DeviceGroupInput = z.input<typeof DeviceGroupSchema>;

/** Default groups an enrollment token gives every device enrolled with it. */
export const TokenGroupsSchema = z.array(GroupNameSchema).max(64);

/** What the console knows about a device when it decides membership. */
export const DeviceFactsSchema = z.strictObject({
  id: UuidSchema,
  hostname: z.string().max(253),
  /** The token the device enrolled with; null for devices enrolled before tokens were recorded. */
  enrollmentTokenId: UuidSchema.nullable(),
  ownership: OwnershipSchema.nullable(),
});
export type DeviceFacts = z.infer<typeof DeviceFactsSchema>;

// ---------------------------------------------------------------- policies

/**
 * One rule on a named policy, with who added it and why. `exception: true` makes it an
 * exception in the rule model (docs/application-control.md: it beats regular rules of its tier
 * and lapses on the device itself at `expiresAt`). A regular rule with `expiresAt` is left out of
 * effective policies from that moment on by the console, which republishes then.
 */
export const RuleRecordSchema = z
  .strictObject({
    rule: AppRuleSchema,
    exception: z.boolean().default(false),
    author: ActorSchema,
    reason: z.string().max(500).optional(),
    addedAt: IsoDateTime,
    expiresAt: IsoDateTime.optional(),
    /**
     * Where the rule came from. `file` rules belong to the pushed document; `console` and
     * `approval` rules were added one at a time and a file push may not drop them silently.
     */
    origin: z.enum(['file', 'console', 'approval', 'migration']),
    /** The app request an approval answered. */
    requestId: z.string().max(64).optional(),
  })
  .superRefine((r, ctx) => {
    if (!r.exception) return;
    if (!r.expiresAt) ctx.addIssue({ code: 'custom', path: ['expiresAt'], message: 'an exception needs an expiry (expiresAt)' });
    if (!r.reason || r.reason.trim().length < 3)
      ctx.addIssue({ code: 'custom', path: ['reason'], message: 'an exception needs a reason of at least 3 characters' });
  });
export type RuleRecord = z.infer<typeof RuleRecordSchema>;
export type RuleRecordInput = z.input<typeof RuleRecordSchema>;

/**
 * The settings a named policy may set. Every section is optional: absent means "this policy
 * does not set it" and a lower-precedence assignment (or the agent's default) decides. The unit
 * of a setting is the section, except for `applications`, whose three fields are independent.
 * Sections are not mixed field by field because their fields constrain each other (a session's
 * idle logoff must come after its idle lock).
 */
export const PolicySettingsSchema = z.strictObject({
  agent: PolicyDocumentSchema.shape.agent.unwrap().optional(),
  aup: PolicyDocumentSchema.shape.aup,
  session: SessionPolicySchema.optional(),
  usb: UsbPolicySchema.optional(),
  activity: ActivityPolicySchema.optional(),
  tray: TrayPolicySchema.optional(),
  applications: z
    .strictObject({
      mode: ExecModeSchema.optional(),
      defaultAction: AppActionSchema.optional(),
      linuxMarks: z.array(z.string().startsWith('/').max(1024)).max(64).optional(),
    })
    .optional(),
});
export type PolicySettings = z.infer<typeof PolicySettingsSchema>;

/** The settings one at a time, in the order `explain` lists them. */
export const SETTING_NAMES = [
  'agent',
  'aup',
  'session',
  'usb',
  'activity',
  'tray',
  'applications.mode',
  'applications.defaultAction',
  'applications.linuxMarks',
] as const;
export type SettingName = (typeof SETTING_NAMES)[number];

export function settingValue(settings: PolicySettings, name: SettingName): unknown {
  if (name.startsWith('applications.')) return (settings.applications as Record<string, unknown> | undefined)?.[name.slice('applications.'.length)];
  return settings[name as keyof PolicySettings];
}

export const PolicyContentSchema = z
  .strictObject({
    settings: PolicySettingsSchema.default({}),
    rules: z
      .array(RuleRecordSchema)
      .max(POLICY_LIMITS.rules, `a policy holds at most ${POLICY_LIMITS.rules.toLocaleString('en')} rules (the policy's rule limit)`)
      .default([]),
  })
  .superRefine((content, ctx) => {
    for (const { index, message } of repeatedRuleKeys(content.rules)) ctx.addIssue({ code: 'custom', path: ['rules', index], message });
  });
export type PolicyContent = z.infer<typeof PolicyContentSchema>;
export type PolicyContentInput = z.input<typeof PolicyContentSchema>;

/**
 * Records whose key an earlier record has. A policy holds one record per key, so that a single
 * rule can be named, changed and removed; also checked where a content is put together from
 * stored parts rather than parsed whole (revision-runs.ts).
 */
export function repeatedRuleKeys(rules: readonly RuleRecord[]): { index: number; message: string }[] {
  const seen = new Map<string, number>();
  const repeated: { index: number; message: string }[] = [];
  rules.forEach((record, index) => {
    const key = recordKey(record);
    const first = seen.get(key);
    if (first === undefined) seen.set(key, index);
    else repeated.push({ index, message: `rule ${key} is already rule ${first}; change that one instead` });
  });
  return repeated;
}

export const NamedPolicySchema = z.strictObject({
  name: PolicyNameSchema,
  displayName: DisplayName,
  description: Description.optional(),
  /** The policy's current revision number (see PolicyRevisionSchema). */
  revision: z.number().int().positive(),
  content: PolicyContentSchema,
});
export type NamedPolicy = z.infer<typeof NamedPolicySchema>;

// ---------------------------------------------------------------- assignments

/** A policy applied to the members of a group; of two assignments the higher precedence wins. */
export const AssignmentSchema = z.strictObject({
  policy: PolicyNameSchema,
  group: GroupNameSchema,
  precedence: z.number().int().min(1).max(1_000_000),
});
export type Assignment = z.infer<typeof AssignmentSchema>;

/**
 * Which policies apply where. The baseline applies to every device below every assignment.
 * Precedences are unique so that every conflict has exactly one winner whatever order the
 * assignments are listed in.
 */
export const AssignmentSetSchema = z
  .strictObject({
    baseline: PolicyNameSchema,
    assignments: z.array(AssignmentSchema).max(POLICY_LIMITS.assignments).default([]),
  })
  .superRefine((set, ctx) => {
    const byPrecedence = new Map<number, number>();
    const pairs = new Set<string>();
    set.assignments.forEach((a, index) => {
      const other = byPrecedence.get(a.precedence);
      if (other !== undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['assignments', index, 'precedence'],
          message: `precedence ${a.precedence} is already used by assignment ${other}; precedences must be unique`,
        });
      byPrecedence.set(a.precedence, index);
      const pair = `${a.policy}\u0000${a.group}`;
      if (pairs.has(pair))
        ctx.addIssue({ code: 'custom', path: ['assignments', index], message: `policy ${a.policy} is already assigned to group ${a.group}` });
      pairs.add(pair);
    });
  });
export type AssignmentSet = z.infer<typeof AssignmentSetSchema>;

// ---------------------------------------------------------------- revisions

export const RevisionChangeSchema = z.enum(['create', 'push', 'rule-add', 'rule-change', 'rule-remove', 'settings', 'rollback', 'migration', 'expiry']);

/**
 * Every change to a named policy is a revision holding the whole content, so any two can be
 * compared and any one published again. Numbers only grow; a rollback is a new revision whose
 * content is an older one's (`rolledBackTo`).
 */
export const PolicyRevisionSchema = z.strictObject({
  policy: PolicyNameSchema,
  revision: z.number().int().positive(),
  author: ActorSchema,
  at: IsoDateTime,
  reason: z.string().max(500).optional(),
  change: RevisionChangeSchema,
  rolledBackTo: z.number().int().positive().optional(),
  content: PolicyContentSchema,
});
export type PolicyRevision = z.infer<typeof PolicyRevisionSchema>;
