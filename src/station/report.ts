import { randomUUID } from 'node:crypto';
import { describeFetchError } from '../shared/fetch-error.js';
import type { VolumeIdentity } from '../shared/node/scan-flag.js';
import {
  buildReportFindings,
  signStationReport,
  StationReportResponseSchema,
  type StationReport,
  type StationReportOutcome,
} from '../shared/node/station-report.js';
import { cleanText } from '../shared/text.js';
import { summariseZodError } from '../shared/zod-errors.js';
import type { ClamavEngine } from './clamav.js';
import type { ScanOutcome } from './scan.js';
import type { StationKey } from './station-key.js';

export class StationReportError extends Error {}

/** How a scan ended, in the report's words: anything that is neither clean nor infected left no flag. */
function outcomeOf(scan: ScanOutcome): StationReportOutcome {
  if (scan.ok) return 'clean';
  if (scan.reason === 'infected') return 'infected';
  if (scan.reason === 'no-volume-id') return 'refused';
  return 'unreadable';
}

/** The signed report of one scan, for the console. */
export function buildStationReport(
  scan: ScanOutcome,
  ctx: { stationId: string; key: StationKey; volume: VolumeIdentity; engine: ClamavEngine; scannedAt?: Date },
): StationReport {
  const infected = scan.ok ? [] : scan.infected;
  const problems = scan.ok ? [] : scan.problems;
  const detail = scan.ok ? `${scan.files} files scanned clean; flag written` : scan.detail;
  return signStationReport(
    {
      reportId: randomUUID(),
      station: { id: ctx.stationId, keyId: ctx.key.keyId },
      scannedAt: (ctx.scannedAt ?? new Date()).toISOString(),
      outcome: outcomeOf(scan),
      detail: cleanText(detail, 300),
      counts: { files: scan.files, bytes: scan.bytes, infected: infected.length, problems: problems.length },
      ...buildReportFindings(infected, problems),
      volume: ctx.volume,
      engine: {
        name: 'clamav',
        version: cleanText(ctx.engine.version, 64),
        databaseVersion: ctx.engine.databaseVersion === null ? null : cleanText(ctx.engine.databaseVersion, 64),
      },
    },
    ctx.key.privateKeyPem,
    ctx.key.publicKey,
  );
}

/** Sends a report; throws StationReportError saying why the console was not told. */
export async function sendStationReport(consoleUrl: string, report: StationReport, timeoutMs = 15_000): Promise<{ stored: boolean }> {
  const url = new URL(`/api/v1/stations/${encodeURIComponent(report.payload.station.id)}/reports`, consoleUrl);
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(report),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    throw new StationReportError(`cannot reach the console at ${consoleUrl}: ${describeFetchError(error)}`);
  }
  const body = (await response.json().catch(() => null)) as { message?: string } | null;
  if (!response.ok) throw new StationReportError(`the console refused the report (${response.status}): ${body?.message ?? 'no reason given'}`);
  const parsed = StationReportResponseSchema.safeParse(body);
  if (!parsed.success) throw new StationReportError(`the console sent an unexpected answer: ${summariseZodError(parsed.error)}`);
  return { stored: parsed.data.stored };
}
