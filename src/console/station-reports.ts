import type { Logger } from '../shared/node/log.js';
import { verifyPayload } from '../shared/node/signing.js';
import { STATION_REPORT_LIMITS, StoredStationReportSchema, type StationReport, type StoredStationReport } from '../shared/node/station-report.js';
import { HttpError } from './http/http-error.js';
import type { ConsoleStore } from './store/store.js';

/** Reports are audit entries: IT reads them with the audit log, or per station through the API. */
export const STATION_SCAN_ACTION = 'station.scan';

/**
 * A scan station says what it found on a drive. Only the key the console registered for that
 * station id, and not revoked, can say so; anything else is refused and stores nothing. A report
 * delivered twice (a retry after a lost answer) is stored once.
 */
export async function acceptStationReport(
  deps: { store: ConsoleStore; log: Logger },
  pathStationId: string,
  report: StationReport,
  ip: string,
  now = new Date(),
): Promise<{ stored: boolean; reportId: string }> {
  const { payload } = report;
  if (payload.station.id !== pathStationId) throw new HttpError(400, 'invalid-request', 'the report names a different station than the URL');
  const station = (await deps.store.listStationKeys()).find((s) => s.id === payload.station.id);
  if (!station) {
    deps.log.warn('scan report from an unregistered station refused', { stationId: payload.station.id, ip });
    throw new HttpError(401, 'unknown-station', `no scan station "${payload.station.id}" is registered; register its key with \`vigil station register\``);
  }
  if (!verifyPayload('station-report', payload, report.signature, station.publicKey)) {
    deps.log.warn('scan report with a bad signature refused', { stationId: station.id, ip });
    throw new HttpError(401, 'bad-signature', `the report is not signed by the key registered for station "${station.id}"`);
  }
  if (station.revokedAt) {
    deps.log.warn('scan report from a revoked station refused', { stationId: station.id, ip });
    throw new HttpError(403, 'revoked-station', `station "${station.id}" was revoked at ${station.revokedAt}; its reports are not accepted`);
  }
  const age = now.getTime() - Date.parse(payload.scannedAt);
  if (age > STATION_REPORT_LIMITS.maxAgeMs || age < -STATION_REPORT_LIMITS.maxFutureSkewMs) {
    throw new HttpError(400, 'stale-report', 'the report is more than an hour old or dated in the future (is the station clock right?)');
  }
  const receivedAt = now.toISOString();
  const stored: StoredStationReport = { ...payload, receivedAt };
  const changed = await deps.store.appendAuditOnce(
    { at: receivedAt, actor: `station:${station.id}`, action: STATION_SCAN_ACTION, target: `station:${station.id}`, detail: { ...stored, ip } },
    'reportId',
    payload.reportId,
  );
  if (changed) {
    const fields = { stationId: station.id, reportId: payload.reportId, outcome: payload.outcome, volume: payload.volume.fsUuid ?? payload.volume.usbSerial };
    if (payload.outcome === 'clean') deps.log.info('scan station reported a clean drive', fields);
    else deps.log.warn(`scan station reported an ${payload.outcome === 'infected' ? 'infected' : 'unflagged'} drive`, { ...fields, detail: payload.detail });
  }
  return { stored: changed, reportId: payload.reportId };
}

/** The newest reports from one station, as stored (entries that no longer parse are skipped). */
export async function listStationReports(store: ConsoleStore, stationId: string, limit: number): Promise<StoredStationReport[]> {
  const entries = await store.listAuditFor(STATION_SCAN_ACTION, `station:${stationId}`, limit);
  return entries.flatMap((e) => {
    const { ip: _ip, ...detail } = e.detail;
    const parsed = StoredStationReportSchema.safeParse(detail);
    return parsed.success ? [parsed.data] : [];
  });
}
