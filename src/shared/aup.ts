import { z } from 'zod';
import { SignatureSchema } from './signed.js';
import { IsoDateTime, UuidSchema } from './text.js';

/**
 * The Acceptable Use Policy as it travels: published by the console as a signed document per
 * variant (primary, secondary, staff...), accepted by a pupil on a device with a receipt the
 * device signs. Browser-safe: signing and verification live in aup-verify.ts.
 */
export const AupVariantSchema = z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'variants are short lower-case names such as "primary"');

export const AupDocumentSchema = z.strictObject({
  kind: z.literal('vigil.aup'),
  variant: AupVariantSchema,
  /** Per-variant counter: publishing a new version asks everyone again. */
  version: z.number().int().positive(),
  title: z.string().min(1).max(200),
  /** The policy text in Markdown (the subset the AUP page renders: headings, paragraphs, lists, emphasis). */
  markdown: z.string().min(1).max(200_000),
  publishedAt: IsoDateTime,
});
export type AupDocument = z.infer<typeof AupDocumentSchema>;

export const SignedAupSchema = z.strictObject({ payload: AupDocumentSchema, signature: SignatureSchema });
export type SignedAup = z.infer<typeof SignedAupSchema>;

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
export const TypedNameSchema = z
  .string()
  .trim()
  .min(2, 'type your name to agree')
  .max(120)
  .refine((name) => !CONTROL.test(name) && name.isWellFormed(), 'use letters, spaces and punctuation only');

/** The OS account an acceptance is for (as the device names it: "jsmith", "SCHOOL\\jsmith"). */
export const AupUserSchema = z.string().min(1).max(128);

/** What the pupil's acceptance says; the device signs it with its own key. */
export const AupReceiptPayloadSchema = z.strictObject({
  kind: z.literal('vigil.aup-receipt'),
  deviceId: UuidSchema,
  /** The OS account that accepted. */
  user: AupUserSchema,
  variant: AupVariantSchema,
  version: z.number().int().positive(),
  /** sha256 of the canonical AUP document: the receipt names exactly the text that was shown. */
  aupHash: z.string().regex(/^[0-9a-f]{64}$/),
  /**
   * The name the pupil typed. Checked, never rewritten: the receipt is signed, and any change
   * between signing and checking would break the signature.
   */
  typedName: TypedNameSchema,
  acceptedAt: IsoDateTime,
});
export type AupReceiptPayload = z.infer<typeof AupReceiptPayloadSchema>;

export const AupReceiptSchema = z.strictObject({ payload: AupReceiptPayloadSchema, signature: SignatureSchema });
export type AupReceipt = z.infer<typeof AupReceiptSchema>;

/** Publishing a version (API body; the CLI reads the Markdown from a file). */
export const AupPublishRequestSchema = z.strictObject({
  variant: AupVariantSchema,
  title: z.string().min(1).max(200),
  markdown: z.string().min(1).max(200_000),
});

export const AupCoverageRowSchema = z.strictObject({
  variant: AupVariantSchema,
  version: z.number().int().positive(),
  user: z.string(),
  deviceId: UuidSchema,
  hostname: z.string(),
  typedName: z.string(),
  acceptedAt: IsoDateTime,
  current: z.boolean(),
});
export type AupCoverageRow = z.infer<typeof AupCoverageRowSchema>;
