import { StationRegisterRequestSchema } from '../shared/usb-policy.js';
import { readJson } from './http/body.js';
import { HttpError } from './http/http-error.js';
import type { RouteResult, Router } from './http/router.js';
import type { StationKeyService } from './station-keys.js';

const STATION_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/** `/api/v1/stations`: the scan-station key registry (docs/usb.md). */
export function registerStationRoutes(router: Router, stations: StationKeyService): void {
  const ok = (body: unknown, status = 200): RouteResult => ({ status, body });
  router
    .add('GET', '/api/v1/stations', 'stations:manage', async () => ok({ stations: await stations.list() }))
    .add('POST', '/api/v1/stations', 'stations:manage', async ({ req, principal }) => {
      const body = await readJson(req, StationRegisterRequestSchema);
      return ok(await stations.register(body.id, body.publicKey, principal!.username), 201);
    })
    .add('POST', '/api/v1/stations/:id/revoke', 'stations:manage', async ({ params, principal }) => {
      const id = params.id!;
      if (!STATION_ID.test(id)) throw new HttpError(400, 'invalid-request', 'not a station id');
      return ok(await stations.revoke(id, principal!.username));
    });
}
