import { z } from 'zod';
import { ActivityPolicySchema } from './activity-policy.js';
import { AppRuleSchema, ApplicationsSchema, DeviceGroupsSchema, type AppRule } from './app-rules.js';
import { POLICY_LIMITS } from './policy-limits.js';
import { AupVariantSchema } from './aup.js';
import { SessionPolicySchema } from './session.js';
import { TrayPolicySchema } from './tray-policy.js';
import { SignatureSchema } from './signed.js';
import { BundleStationsSchema, UsbPolicySchema } from './usb-policy.js';

/**
 * The policy document a Systems Manager writes (policies/*.json). It says nothing about
 * versions or signatures: the console adds those when it publishes it.
 * Later capabilities add their own sections; unknown keys are rejected so a typo never
 * silently turns a control off.
 */
export const PolicyDocumentSchema = z.strictObject({
  format: z.literal('vigil-policy/1'),
  name: z.string().min(1).max(120),
  description: z.string().max(2000).optional(),
  agent: z
    .strictObject({
      heartbeatSeconds: z.number().int().min(5).max(3600).default(30),
      statusSeconds: z.number().int().min(10).max(86400).default(60),
    })
    .default({ heartbeatSeconds: 30, statusSeconds: 60 }),
  /** Which AUP variant devices on this policy show (primary, secondary, staff...). */
  aup: z
    .strictObject({
      variant: AupVariantSchema,
      /** The school's name for the AUP page's heading, e.g. "Hillside Academy". */
      schoolName: z.string().min(1).max(120).optional(),
    })
    .optional(),
  /** Device groups (year groups, labs, staff): name -> device ids. Rules may be scoped to them. */
  groups: DeviceGroupsSchema.optional(),
  /** Application control (docs/application-control.md). Absent: the agent runs no exec gate. */
  applications: ApplicationsSchema.optional(),
  /** Idle lock, logoff and timetabled logoff (src/shared/session.ts); absent = agent defaults. */
  session: SessionPolicySchema.optional(),
  /** USB storage control (docs/usb.md); absent: the agent does not check drives. */
  usb: UsbPolicySchema.optional(),
  /** Activity reporting and its privacy rules (src/shared/activity-policy.ts); absent = nothing collected. */
  activity: ActivityPolicySchema.optional(),
  /** What happens when a pupil's tray app stops (src/shared/tray-policy.ts); absent = restart it. */
  tray: TrayPolicySchema.optional(),
});
export type PolicyDocument = z.infer<typeof PolicyDocumentSchema>;

/** Rules checked in one turn of the event loop when a large document is parsed in slices: 10,000 are about 15 ms here. */
const RULES_PER_SLICE = 10_000;

/**
 * PolicyDocumentSchema.safeParse for a document whose rule list may be large (a push of 100,000
 * rules took 0.2–0.7 s of the console's one thread in one go): the document without its rules
 * is checked as one, then its rules RULES_PER_SLICE at a time, with a `pause` after each. The
 * same data and the same issues (paths included) as checking the whole at once; a document past
 * the rule limit is checked whole, as that fails at once.
 */
export async function parsePolicyDocument(raw: unknown, pause: () => Promise<unknown>): Promise<z.ZodSafeParseResult<PolicyDocument>> {
  const apps = isRecord(raw) && isRecord(raw.applications) ? raw.applications : null;
  const rules = apps?.rules;
  if (!apps || !Array.isArray(rules) || rules.length <= RULES_PER_SLICE || rules.length > POLICY_LIMITS.rules) return PolicyDocumentSchema.safeParse(raw);
  const shell = PolicyDocumentSchema.safeParse({ ...(raw as object), applications: { ...apps, rules: [] } });
  const issues: z.core.$ZodIssue[] = shell.success ? [] : [...shell.error.issues];
  const parsed: AppRule[] = [];
  for (let at = 0; at < rules.length; at += RULES_PER_SLICE) {
    const slice = RuleListSchema.safeParse(rules.slice(at, at + RULES_PER_SLICE));
    if (slice.success) parsed.push(...slice.data);
    else issues.push(...slice.error.issues.map((issue) => ({ ...issue, path: ['applications', 'rules', at + Number(issue.path[0]), ...issue.path.slice(1)] })));
    await pause();
  }
  if (issues.length > 0 || !shell.success) return { success: false, error: new z.ZodError(issues) as z.ZodError<PolicyDocument> };
  return { success: true, data: { ...shell.data, applications: { ...shell.data.applications!, rules: parsed } } };
}

const RuleListSchema = z.array(AppRuleSchema);
const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

export const PolicyBundlePayloadSchema = z.strictObject({
  kind: z.literal('vigil.policy-bundle'),
  /** Console-wide monotonic counter: a device never accepts a version lower than it holds. */
  version: z.number().int().positive(),
  issuedAt: z.iso.datetime(),
  expiresAt: z.iso.datetime(),
  policy: PolicyDocumentSchema,
  /** Scan-station keys from the console's registry (docs/usb.md), added at every publication. */
  stations: BundleStationsSchema.optional(),
});
export type PolicyBundlePayload = z.infer<typeof PolicyBundlePayloadSchema>;

export const PolicyBundleSchema = z.strictObject({
  payload: PolicyBundlePayloadSchema,
  signature: SignatureSchema,
});
export type PolicyBundle = z.infer<typeof PolicyBundleSchema>;

export { summariseZodError } from './zod-errors.js';
