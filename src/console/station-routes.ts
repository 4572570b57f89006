import type { Logger } from '../shared/node/log.js';
import { StationReportSchema } from '../shared/node/station-report.js';
import { StationRegisterRequestSchema } from '../shared/usb-policy.js';
import { readJson } from './http/body.js';
import { HttpError } from './http/http-error.js';
import type { RouteResult, Router } from './http/router.js';
import { limitParam } from './routes.js';
import type { StationKeyService } from './station-keys.js';
import { acceptStationReport, listStationReports } from './station-reports.js';
import type { ConsoleStore } from './store/store.js';

const STATION_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/** `/api/v1/stations`: the scan-station key registry and the stations' scan reports (docs/usb.md). */
export function registerStationRoutes(router: Router, stations: StationKeyService, reports: { store: ConsoleStore; log: Logger }): void {
  const ok = (body: unknown, status = 200): RouteResult => ({ status, body });
  const stationId = (id: string) => {
    if (!STATION_ID.test(id)) throw new HttpError(400, 'invalid-request', 'not a station id');
    return id;
  };
  router
    .add('GET', '/api/v1/stations', 'stations:manage', async () => ok({ stations: await stations.list() }))
    .add('POST', '/api/v1/stations', 'stations:manage', async ({ req, principal }) => {
      const body = await readJson(req, StationRegisterRequestSchema);
      return ok(await stations.register(body.id, body.publicKey, principal!.username), 201);
    })
    .add('POST', '/api/v1/stations/:id/revoke', 'stations:manage', async ({ params, principal }) =>
      ok(await stations.revoke(stationId(params.id!), principal!.username)),
    )
    // Public: the station key signs the report, checked against the registry.
    .add('POST', '/api/v1/stations/:id/reports', 'public', async ({ req, params, ip }) => {
      const id = stationId(params.id!);
      const report = await readJson(req, StationReportSchema);
      return ok(await acceptStationReport(reports, id, report, ip));
    })
    .add('GET', '/api/v1/stations/:id/reports', 'stations:manage', async ({ params, url }) =>
      ok({ reports: await listStationReports(reports.store, stationId(params.id!), limitParam(url, 1000)) }),
    );
}
