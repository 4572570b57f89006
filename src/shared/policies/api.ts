import { z } from 'zod';
import { AppRuleSchema, GroupNameSchema } from '../app-rules.js';
import { IsoDateTime, UuidSchema } from '../text.js';
import { DeviceGroupSchema, MembershipRuleSchema, PolicyContentSchema, PolicyNameSchema, RuleRecordSchema } from './model.js';

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
