import { z } from 'zod';
import { boundedText, IsoDateTime, UuidSchema } from './text.js';

/**
 * A pupil's "report a concern" from the tray. It goes to the safeguarding lead's queue and
 * nowhere else: the console keeps concerns apart from device events, and only the
 * safeguarding role can read them (roles.ts).
 */
export const ConcernCategorySchema = z.enum(['about-me', 'about-someone-else', 'something-online', 'other']);
export type ConcernCategory = z.infer<typeof ConcernCategorySchema>;

/** What the pupil types in the tray (the bridge call and the service IPC carry this). */
export const ConcernSubmissionSchema = z.strictObject({
  category: ConcernCategorySchema,
  text: boundedText(4000).refine((t) => t.trim().length > 0, 'say a little about what happened'),
  /** The pupil may ask not to be named to anyone but the safeguarding lead; the device is still known. */
  wantsContact: z.boolean(),
});
export type ConcernSubmission = z.infer<typeof ConcernSubmissionSchema>;

/** Event `concern.reported`, from the device's outbox (then stored apart from other events). */
export const ConcernReportedDataSchema = ConcernSubmissionSchema.extend({
  user: boundedText(128).nullable(),
});

export const ConcernStatusSchema = z.enum(['new', 'in-progress', 'closed']);
export type ConcernStatus = z.infer<typeof ConcernStatusSchema>;

/** A concern as the console returns it to the safeguarding lead (`GET /api/v1/concerns`). */
export const ConcernSchema = z.strictObject({
  id: UuidSchema,
  deviceId: UuidSchema,
  hostname: z.string(),
  user: z.string().nullable(),
  reportedAt: IsoDateTime,
  category: ConcernCategorySchema,
  text: z.string(),
  wantsContact: z.boolean(),
  status: ConcernStatusSchema,
  updatedBy: z.string().nullable(),
  updatedAt: IsoDateTime.nullable(),
  note: z.string().nullable(),
});
export type Concern = z.infer<typeof ConcernSchema>;
export const ConcernUpdateSchema = z.strictObject({ status: ConcernStatusSchema, note: boundedText(2000).optional() });
