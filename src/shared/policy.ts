import { z } from 'zod';
import { ActivityPolicySchema } from './activity-policy.js';
import { ApplicationsSchema, DeviceGroupsSchema } from './app-rules.js';
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
