import { z } from 'zod';
import { AupVariantSchema } from './aup.js';
import { TokenGroupsSchema } from './policies/model.js';
import { IsoDateTime, UuidSchema } from './text.js';
import { StationRecordSchema } from './usb-policy.js';

/**
 * The admin pages' API bodies (docs/console.md): the audit log's filter and rows, AUP coverage
 * per variant including who has not accepted yet, enrollment tokens, scan stations and their
 * reports as the pages read them. The console builds these values; the pages parse with them.
 */

/** `GET /api/v1/audit` query: every field optional; text fields match a part, case-insensitively. */
export const AuditQuerySchema = z.strictObject({
  actor: z.string().max(128).optional(),
  action: z.string().max(128).optional(),
  target: z.string().max(256).optional(),
  from: IsoDateTime.optional(),
  to: IsoDateTime.optional(),
  limit: z.coerce.number().int().min(1).max(5000).default(500),
});
export type AuditQuery = z.infer<typeof AuditQuerySchema>;

export const AuditEntrySchema = z.strictObject({
  id: z.number().int(),
  at: IsoDateTime,
  actor: z.string(),
  action: z.string(),
  target: z.string().nullable(),
  detail: z.record(z.string(), z.unknown()),
});
export type AuditEntry = z.infer<typeof AuditEntrySchema>;
export const AuditListResponseSchema = z.strictObject({ audit: z.array(AuditEntrySchema) });

/**
 * One person seen signing in on a device that must show `variant`, with whether they accepted
 * its current version there and anywhere (the AUP gate accepts an acceptance made elsewhere).
 */
export const AupStatusRowSchema = z.strictObject({
  user: z.string(),
  deviceId: UuidSchema,
  hostname: z.string(),
  lastSeenAt: IsoDateTime,
  acceptedHere: z.boolean(),
  /** When the user accepted the current version on any device, or null (not yet). */
  acceptedAt: IsoDateTime.nullable(),
  typedName: z.string().nullable(),
});
export type AupStatusRow = z.infer<typeof AupStatusRowSchema>;

export const AupStatusResponseSchema = z.strictObject({
  variant: AupVariantSchema,
  /** The version devices are shown now; null before the first is published. */
  version: z.number().int().positive().nullable(),
  /** Devices whose policy names this variant (revoked devices are not counted). */
  devices: z.number().int().nonnegative(),
  counts: z.strictObject({ users: z.number().int().nonnegative(), accepted: z.number().int().nonnegative(), notAccepted: z.number().int().nonnegative() }),
  rows: z.array(AupStatusRowSchema),
});
export type AupStatusResponse = z.infer<typeof AupStatusResponseSchema>;

export const AupVersionSummarySchema = z.strictObject({
  variant: AupVariantSchema,
  version: z.number().int().positive(),
  publishedBy: z.string(),
  publishedAt: IsoDateTime,
});
export const AupListResponseSchema = z.strictObject({ aups: z.array(AupVersionSummarySchema), variants: z.array(AupVariantSchema) });

export const AupVersionResponseSchema = AupVersionSummarySchema.extend({ title: z.string(), markdown: z.string() });

export const AupPublishResponseSchema = z.strictObject({
  variant: AupVariantSchema,
  version: z.number().int().positive(),
  deliveredTo: z.number().int().nonnegative(),
});

export const EnrollTokenViewSchema = z.strictObject({
  id: UuidSchema,
  label: z.string(),
  createdBy: z.string(),
  createdAt: IsoDateTime,
  expiresAt: IsoDateTime,
  maxUses: z.number().int().nullable(),
  uses: z.number().int(),
  revoked: z.boolean(),
  /** Console groups every device enrolled with it joins (docs/policies.md). */
  groups: TokenGroupsSchema.default([]),
});
export type EnrollTokenView = z.infer<typeof EnrollTokenViewSchema>;
export const EnrollTokenListResponseSchema = z.strictObject({ tokens: z.array(EnrollTokenViewSchema) });
/** The token itself is in this answer only: the console keeps its hash. */
export const EnrollTokenCreatedSchema = z.strictObject({ id: UuidSchema, token: z.string(), expiresAt: IsoDateTime });

export const StationListResponseSchema = z.strictObject({ stations: z.array(StationRecordSchema) });

/**
 * What the stations page shows of a stored scan report. The full, signed report's schema is
 * Node-only (it carries the volume identity schema of the flag code); this reads the fields
 * the page shows and ignores the rest.
 */
export const StationReportViewSchema = z.object({
  reportId: UuidSchema,
  scannedAt: IsoDateTime,
  receivedAt: IsoDateTime,
  outcome: z.enum(['clean', 'infected', 'unreadable', 'refused']),
  detail: z.string(),
  counts: z.object({ files: z.number(), bytes: z.number(), infected: z.number(), problems: z.number() }),
  engine: z.object({ name: z.string(), version: z.string(), databaseVersion: z.string().nullable() }),
});
export type StationReportView = z.infer<typeof StationReportViewSchema>;
export const StationReportListResponseSchema = z.object({ reports: z.array(StationReportViewSchema) });
