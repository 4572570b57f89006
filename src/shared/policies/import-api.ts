import { z } from 'zod';
import { AppActionSchema, ExecModeSchema } from '../app-rules.js';
import { ChangeResponseSchema, PolicyDiffSchema } from './api.js';

/**
 * Importing rules into a named policy from an AppLocker XML, Santa JSON or CSV file (the Policies
 * page's upload; browser-safe). The page sends the file, the console reads it with the same
 * importers as `vigil app-rules import`, and answers what the import would add and change with
 * the importer's per-line notes (preview, nothing stored); the same request with a reason
 * commits it as one revision.
 */
export const RULE_FILE_FORMATS = ['applocker', 'santa', 'csv'] as const;
export const RuleFileFormatSchema = z.enum(RULE_FILE_FORMATS);

export const ImportPreviewRequestSchema = z.strictObject({
  format: RuleFileFormatSchema,
  /** The file's bytes, base64 (AppLocker exports are often UTF-16). */
  content: z.base64('the file must be sent as base64').min(1, 'choose a file').max(48 * 1024 * 1024),
});
export const ImportRequestSchema = ImportPreviewRequestSchema.extend({ reason: z.string().trim().min(3).max(500) });

export const ImportNoteSchema = z.strictObject({ line: z.number().int().nonnegative(), message: z.string() });

export const ImportPreviewResponseSchema = z.strictObject({
  format: RuleFileFormatSchema,
  /** Rules and exceptions the file held. */
  rules: z.number().int().nonnegative(),
  exceptions: z.number().int().nonnegative(),
  /** What the file would set if it were a whole policy; an import adds rules only. */
  mode: ExecModeSchema.optional(),
  defaultAction: AppActionSchema.optional(),
  notes: z.array(ImportNoteSchema),
  /** What committing would do to the policy. */
  diff: PolicyDiffSchema,
});
export const ImportResponseSchema = ChangeResponseSchema.extend({ diff: PolicyDiffSchema, notes: z.array(ImportNoteSchema) });
