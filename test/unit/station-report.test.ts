import { afterEach, describe, expect, it } from 'vitest';
import { acceptStationReport, listStationReports } from '../../src/console/station-reports.js';
import { openSqliteStore, type SqliteStore } from '../../src/console/store/sqlite-store.js';
import { generateEd25519KeyPair, keyId } from '../../src/shared/node/crypto.js';
import { createLogger } from '../../src/shared/node/log.js';
import { verifyPayload } from '../../src/shared/node/signing.js';
import {
  buildReportFindings,
  signStationReport,
  STATION_REPORT_LIMITS,
  StationReportSchema,
  type StationReportPayload,
} from '../../src/shared/node/station-report.js';
import { tempDirsPerTest } from '../helpers/processes.js';

/** The station report contract and the console's acceptance of it, against a real SQLite store. */
const tempPath = tempDirsPerTest();
const stores: SqliteStore[] = [];
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
});

const key = generateEd25519KeyPair();
function payload(over: Partial<StationReportPayload> = {}): StationReportPayload {
  return {
    reportId: crypto.randomUUID(),
    station: { id: 'library-station', keyId: keyId(key.publicKey) },
    scannedAt: new Date().toISOString(),
    outcome: 'infected',
    detail: '1 infected file(s) found',
    counts: { files: 3, bytes: 1200, infected: 1, problems: 0 },
    findings: [{ kind: 'infected', path: 'Homework/free-robux.exe', problem: 'Vigil.Test.Malware.UNOFFICIAL' }],
    findingsOmitted: 0,
    volume: { fsUuid: '0b6c1e2a-1111-2222-3333-444455556666', fsType: 'ext4', label: 'PUPILDRIVE', usbSerial: null },
    engine: { name: 'clamav', version: '1.0.7', databaseVersion: null },
    ...over,
  };
}

describe('station report schema and signature', () => {
  it('round-trips through JSON and verifies only with the station key and purpose', () => {
    const report = signStationReport(payload(), key.privateKeyPem, key.publicKey);
    const parsed = StationReportSchema.parse(JSON.parse(JSON.stringify(report)));
    expect(verifyPayload('station-report', parsed.payload, parsed.signature, key.publicKey)).toBe(true);
    expect(verifyPayload('scan-flag', parsed.payload, parsed.signature, key.publicKey)).toBe(false);
    const edited = { ...parsed.payload, outcome: 'clean' as const };
    expect(verifyPayload('station-report', edited, parsed.signature, key.publicKey)).toBe(false);
    expect(verifyPayload('station-report', parsed.payload, parsed.signature, generateEd25519KeyPair().publicKey)).toBe(false);
  });

  it('refuses unknown fields, outcomes and oversized lists', () => {
    const report = signStationReport(payload(), key.privateKeyPem, key.publicKey);
    expect(StationReportSchema.safeParse({ ...report, extra: 1 }).success).toBe(false);
    expect(StationReportSchema.safeParse({ ...report, payload: { ...report.payload, outcome: 'fine' } }).success).toBe(false);
    const many = Array.from({ length: STATION_REPORT_LIMITS.maxFindings + 1 }, (_, i) => ({ kind: 'problem', path: `f${i}`, problem: 'x' }));
    expect(StationReportSchema.safeParse({ ...report, payload: { ...report.payload, findings: many } }).success).toBe(false);
  });

  it('bounds findings: infected first, control characters cleaned, the rest counted', () => {
    const infected = [{ path: 'evil\u0007.exe', problem: 'Sig.A' }];
    const problems = Array.from({ length: 60 }, (_, i) => ({ path: `dir/${'x'.repeat(600)}${i}`, problem: 'cannot read: EIO' }));
    const { findings, findingsOmitted } = buildReportFindings(infected, problems);
    expect(findings).toHaveLength(STATION_REPORT_LIMITS.maxFindings);
    expect(findingsOmitted).toBe(61 - STATION_REPORT_LIMITS.maxFindings);
    expect(findings[0]).toEqual({ kind: 'infected', path: 'evil\uFFFD.exe', problem: 'Sig.A' });
    expect(findings[1]!.path.length).toBeLessThanOrEqual(STATION_REPORT_LIMITS.maxPathLength);
    // What the station signs must be what the console's schema accepts.
    expect(StationReportSchema.safeParse(signStationReport(payload({ findings, findingsOmitted }), key.privateKeyPem, key.publicKey)).success).toBe(true);
  });
});

describe('console: acceptStationReport', () => {
  async function registry() {
    const store = openSqliteStore(tempPath('console.db'));
    stores.push(store);
    await store.insertStationKey({
      id: 'library-station',
      publicKey: key.publicKey,
      keyId: keyId(key.publicKey),
      registeredBy: 'admin',
      registeredAt: new Date().toISOString(),
    });
    const deps = { store, log: createLogger('test', 'error') };
    const stored = () => listStationReports(store, 'library-station', 100);
    return { store, deps, stored };
  }
  const sign = (p: StationReportPayload, signer = key) => signStationReport(p, signer.privateKeyPem, signer.publicKey);

  it('stores a signed report once, however often it is delivered', async () => {
    const { deps, stored, store } = await registry();
    const report = sign(payload());
    expect(await acceptStationReport(deps, 'library-station', report, '127.0.0.1')).toEqual({ stored: true, reportId: report.payload.reportId });
    expect(await acceptStationReport(deps, 'library-station', report, '127.0.0.1')).toEqual({ stored: false, reportId: report.payload.reportId });
    const reports = await stored();
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({ outcome: 'infected', findings: [{ path: 'Homework/free-robux.exe', problem: 'Vigil.Test.Malware.UNOFFICIAL' }] });
    expect((await store.listAudit(10)).filter((a) => a.action === 'station.scan')).toHaveLength(1);
  });

  it('refuses a wrong key, an unregistered or revoked station, a mismatched URL and stale reports, storing nothing', async () => {
    const { deps, stored, store } = await registry();
    const impostor = generateEd25519KeyPair();
    const refusals: [string, Promise<unknown>][] = [
      [
        'bad-signature',
        acceptStationReport(deps, 'library-station', sign(payload({ station: { id: 'library-station', keyId: keyId(impostor.publicKey) } }), impostor), 'x'),
      ],
      ['unknown-station', acceptStationReport(deps, 'lab-station', sign(payload({ station: { id: 'lab-station', keyId: keyId(key.publicKey) } })), 'x')],
      ['invalid-request', acceptStationReport(deps, 'lab-station', sign(payload()), 'x')],
      ['stale-report', acceptStationReport(deps, 'library-station', sign(payload({ scannedAt: new Date(Date.now() - 2 * 3600_000).toISOString() })), 'x')],
      ['stale-report', acceptStationReport(deps, 'library-station', sign(payload({ scannedAt: new Date(Date.now() + 3600_000).toISOString() })), 'x')],
    ];
    for (const [code, attempt] of refusals) await expect(attempt).rejects.toMatchObject({ code });
    await store.revokeStationKey('library-station', 'admin', new Date().toISOString());
    await expect(acceptStationReport(deps, 'library-station', sign(payload()), 'x')).rejects.toMatchObject({ status: 403, code: 'revoked-station' });
    expect(await stored()).toEqual([]);
  });
});
