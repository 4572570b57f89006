import type { KeyObject } from 'node:crypto';
import { z } from 'zod';
import { VolumeIdentitySchema } from './scan-flag.js';
import { KeyIdSchema, SignatureSchema } from '../signed.js';
import { signPayload } from './signing.js';
import { cleanText, IsoDateTime, UuidSchema } from '../text.js';

/**
 * `POST /api/v1/stations/:id/reports`: what a scan station tells the console after every scan,
 * clean or not, signed with the station key (purpose 'station-report'). The console accepts it
 * only from a registered, non-revoked station, so IT sees which drives were infected or could
 * not be read. The schema has no transforms: the console verifies exactly the bytes the station
 * signed, so the station bounds and cleans text before signing (see buildReportFindings).
 */
export const STATION_REPORT_LIMITS = {
  /** Findings carried in one report; the rest are counted in findingsOmitted. */
  maxFindings: 50,
  maxPathLength: 512,
  maxProblemLength: 200,
  maxDetailLength: 300,
  /** A report older than this (or this far in the future) is refused as stale. */
  maxAgeMs: 60 * 60_000,
  maxFutureSkewMs: 5 * 60_000,
} as const;

const ShortId = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .regex(/^[A-Za-z0-9._:-]+$/, 'unexpected characters');
const Count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const StationReportOutcomeSchema = z.enum(['clean', 'infected', 'unreadable', 'refused']);
export type StationReportOutcome = z.infer<typeof StationReportOutcomeSchema>;

export const StationReportFindingSchema = z.strictObject({
  kind: z.enum(['infected', 'problem']),
  path: z.string().min(1).max(STATION_REPORT_LIMITS.maxPathLength),
  /** The ClamAV signature name for an infected file, else what stopped the file being scanned. */
  problem: z.string().min(1).max(STATION_REPORT_LIMITS.maxProblemLength),
});
export type StationReportFinding = z.infer<typeof StationReportFindingSchema>;

export const StationReportPayloadSchema = z.strictObject({
  reportId: UuidSchema,
  station: z.strictObject({ id: ShortId(64), keyId: KeyIdSchema }),
  scannedAt: IsoDateTime,
  outcome: StationReportOutcomeSchema,
  detail: z.string().max(STATION_REPORT_LIMITS.maxDetailLength),
  counts: z.strictObject({ files: Count, bytes: Count, infected: Count, problems: Count }),
  findings: z.array(StationReportFindingSchema).max(STATION_REPORT_LIMITS.maxFindings),
  findingsOmitted: Count,
  volume: VolumeIdentitySchema,
  engine: z.strictObject({
    name: z.literal('clamav'),
    version: z.string().max(64),
    databaseVersion: z.string().max(64).nullable(),
  }),
});
export type StationReportPayload = z.infer<typeof StationReportPayloadSchema>;

export const StationReportSchema = z.strictObject({ payload: StationReportPayloadSchema, signature: SignatureSchema });
export type StationReport = z.infer<typeof StationReportSchema>;

export const StationReportResponseSchema = z.strictObject({ stored: z.boolean(), reportId: UuidSchema });

/** A stored report as `GET /api/v1/stations/:id/reports` returns it. */
export const StoredStationReportSchema = StationReportPayloadSchema.extend({ receivedAt: IsoDateTime });
export type StoredStationReport = z.infer<typeof StoredStationReportSchema>;

/** Infected files first, then problems, each cleaned and bounded; the rest are only counted. */
export function buildReportFindings(
  infected: readonly { path: string; problem: string }[],
  problems: readonly { path: string; problem: string }[],
): { findings: StationReportFinding[]; findingsOmitted: number } {
  const all = [...infected.map((f) => ({ kind: 'infected' as const, ...f })), ...problems.map((f) => ({ kind: 'problem' as const, ...f }))];
  const findings = all.slice(0, STATION_REPORT_LIMITS.maxFindings).map((f) => ({
    kind: f.kind,
    path: cleanText(f.path, STATION_REPORT_LIMITS.maxPathLength) || '?',
    problem: cleanText(f.problem, STATION_REPORT_LIMITS.maxProblemLength) || '?',
  }));
  return { findings, findingsOmitted: all.length - findings.length };
}

export function signStationReport(payload: StationReportPayload, privateKey: KeyObject | string, publicKey: string): StationReport {
  return { payload, signature: signPayload('station-report', payload, privateKey, publicKey) };
}
