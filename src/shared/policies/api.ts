import { z } from 'zod';
import { AppRuleSchema, GroupNameSchema } from '../app-rules.js';
import { PolicyDocumentSchema } from '../policy.js';
import { OwnershipSchema } from '../session.js';
import { IsoDateTime, UuidSchema } from '../text.js';
import {
  AssignmentSetSchema,
  DeviceGroupSchema,
  MembershipRuleSchema,
  NamedPolicySchema,
  PolicyContentSchema,
  PolicyNameSchema,
  PolicyRevisionSchema,
  RuleRecordSchema,
  SETTING_NAMES,
  TokenGroupsSchema,
} from './model.js';

/**
 * Request bodies of the groups and policies API (browser-safe): the console validates with them,
 * the CLI builds them, and the admin pages build their forms on them. Responses carry the model's
 * own types (model.ts, merge.ts Explanation, diff.ts PolicyDiff).
 */

const Reason = z.string().trim().min(3).max(500);

export const GroupCreateRequestSchema = DeviceGroupSchema;
export const GroupUpdateRequestSchema = z.strictObject({
  /** Renaming keeps assignments and scoped rules pointing at the group. */
  name: GroupNameSchema.optional(),
  displayName: z.string().trim().min(1).max(120).optional(),
  description: z.string().max(2000).optional(),
  addDevices: z.array(UuidSchema).max(10_000).optional(),
  removeDevices: z.array(UuidSchema).max(10_000).optional(),
  rules: z.array(MembershipRuleSchema).max(64).optional(),
});

export const PolicyCreateRequestSchema = z.strictObject({
  name: PolicyNameSchema,
  displayName: z.string().trim().min(1).max(120),
  description: z.string().max(2000).optional(),
  content: PolicyContentSchema.optional(),
  reason: Reason.optional(),
});

/** `vigil policy push FILE --policy NAME`: the document is checked as vigil-policy/1 by the console. */
export const PolicyPushRequestSchema = z.strictObject({
  document: z.unknown(),
  /** refuse (default): a push that would drop or change console-added rules is refused naming them. */
  mode: z.enum(['refuse', 'keep-console-rules', 'replace']).default('refuse'),
  reason: Reason.optional(),
});

export const RuleAddRequestSchema = z.strictObject({
  rule: AppRuleSchema,
  exception: z.boolean().default(false),
  reason: Reason,
  expiresAt: IsoDateTime.optional(),
  /** Change the policy's rule with the same key instead of refusing. */
  replace: z.boolean().default(false),
});

export const RuleRemoveRequestSchema = z.strictObject({ key: z.string().min(1).max(4096), reason: Reason });

export const AssignRequestSchema = z.strictObject({
  policy: PolicyNameSchema,
  group: GroupNameSchema,
  precedence: z.number().int().min(1).max(1_000_000),
  reason: Reason.optional(),
});
export const BaselineRequestSchema = z.strictObject({ policy: PolicyNameSchema, reason: Reason.optional() });

export const RollbackRequestSchema = z.strictObject({ revision: z.number().int().positive(), reason: Reason });

/** Approving an app request names the policy the rule goes into (default: the approvals policy). */
export const APPROVALS_POLICY = 'approvals';
export const ApprovalTargetSchema = z.strictObject({ policy: PolicyNameSchema.default(APPROVALS_POLICY) });

/** 409 answer to a push that would lose console-added rules. */
export const PushRefusedSchema = z.strictObject({
  error: z.literal('would-drop-console-rules'),
  message: z.string(),
  dropped: z.array(RuleRecordSchema),
  overridden: z.array(z.strictObject({ key: z.string(), fields: z.array(z.string()), before: RuleRecordSchema, after: RuleRecordSchema })),
});

// ---------------------------------------------------------------- responses

const Count = z.number().int().nonnegative();

/** What every change answers: the revision it stored (policy changes), the version published (null: no device's policy changed). */
export const ChangeResponseSchema = z.strictObject({
  revision: z.number().int().positive().optional(),
  version: z.number().int().positive().nullable(),
  changedKeys: z.array(z.string()),
  notified: Count,
});

export const GroupViewSchema = DeviceGroupSchema.extend({
  /** Every member: listed devices, and enrolled devices a membership rule or token default puts in. */
  members: z.array(UuidSchema),
});
export const GroupListResponseSchema = z.strictObject({ groups: z.array(GroupViewSchema) });
export const GroupResponseSchema = z.strictObject({ group: GroupViewSchema });

export const PolicySummarySchema = z.strictObject({
  name: PolicyNameSchema,
  displayName: z.string(),
  description: z.string().optional(),
  revision: z.number().int().positive(),
  rules: Count,
  baseline: z.boolean(),
  assignedTo: z.array(GroupNameSchema),
});
export const PolicyListResponseSchema = z.strictObject({ policies: z.array(PolicySummarySchema) });
export const PolicyResponseSchema = z.strictObject({ policy: NamedPolicySchema });
export const HistoryResponseSchema = z.strictObject({ history: z.array(PolicyRevisionSchema.omit({ content: true })) });
export const RevisionResponseSchema = z.strictObject({ revision: PolicyRevisionSchema });

const RuleChangeSchema = z.strictObject({ key: z.string(), fields: z.array(z.string()), before: RuleRecordSchema, after: RuleRecordSchema });
export const PolicyDiffSchema = z.strictObject({
  rules: z.strictObject({ added: z.array(RuleRecordSchema), removed: z.array(RuleRecordSchema), changed: z.array(RuleChangeSchema) }),
  settings: z.array(z.strictObject({ setting: z.enum(SETTING_NAMES), before: z.unknown().optional(), after: z.unknown().optional() })),
});
export const DiffResponseSchema = z.strictObject({ from: z.number().int().positive(), to: z.number().int().positive(), diff: PolicyDiffSchema });

/** A rule as listed: its key (what `rules remove` takes) and its record. */
export const RuleListResponseSchema = z.strictObject({ rules: z.array(z.strictObject({ key: z.string(), record: RuleRecordSchema })) });

export const PushResponseSchema = ChangeResponseSchema.extend({
  policy: PolicyNameSchema,
  diff: PolicyDiffSchema,
  /** Rules the file held twice, and which was kept. */
  notes: z.array(z.string()),
});

export const AssignmentsResponseSchema = z.strictObject({ assignments: AssignmentSetSchema.nullable() });

const AssignmentRefSchema = z.strictObject({ policy: PolicyNameSchema, group: GroupNameSchema.nullable(), precedence: z.number().int().nonnegative() });
const RuleOriginSchema = z.strictObject({
  key: z.string(),
  matchKey: z.string(),
  from: AssignmentRefSchema,
  author: z.string(),
  origin: RuleRecordSchema.shape.origin,
  reason: z.string().optional(),
  addedAt: IsoDateTime,
  expiresAt: IsoDateTime.optional(),
});
export const MembershipViewSchema = z.strictObject({
  group: GroupNameSchema,
  reasons: z.array(
    z.discriminatedUnion('kind', [
      z.strictObject({ kind: z.literal('explicit') }),
      z.strictObject({ kind: z.literal('rule'), rule: MembershipRuleSchema }),
      z.strictObject({ kind: z.literal('token-default'), tokenId: z.string() }),
    ]),
  ),
});
export const ExplainResponseSchema = z.strictObject({
  memberships: z.array(MembershipViewSchema),
  explanation: z.strictObject({
    groups: z.array(GroupNameSchema),
    applied: z.array(AssignmentRefSchema),
    settings: z.array(z.strictObject({ setting: z.enum(SETTING_NAMES), from: AssignmentRefSchema.nullable() })),
    rules: z.array(RuleOriginSchema),
    shadowed: z.array(RuleOriginSchema.extend({ by: AssignmentRefSchema })),
    excluded: z.array(RuleOriginSchema.extend({ why: z.enum(['out-of-scope', 'expired']) })),
  }),
  /** The policy document the device should enforce (what the console signs for its group set). */
  effective: PolicyDocumentSchema,
  problems: z.array(z.string()),
});

export const OwnershipRequestSchema = z.strictObject({ ownership: OwnershipSchema.nullable(), reason: Reason.optional() });
export const TokenGroupsRequestSchema = z.strictObject({ groups: TokenGroupsSchema, reason: Reason.optional() });
