import { z } from 'zod';
import type { DeviceActivityResponseSchema } from '../shared/activity.js';
import type { DeviceHistoryResponseSchema, PolicyRefreshResponseSchema } from '../shared/api.js';
import { IsoDateTime } from '../shared/text.js';
import { activitySpans } from './activity-spans.js';
import type { PolicyDistribution } from './policies/distribution.js';
import { HttpError } from './http/http-error.js';
import type { Router } from './http/router.js';
import type { ConsoleStore } from './store/store.js';

/** A device page asks for at most a week of activity at a time, and gets at most this many spans. */
const MAX_ACTIVITY_RANGE_MS = 7 * 86400_000;
const DEFAULT_ACTIVITY_RANGE_MS = 8 * 3600_000;
const MAX_SPANS = 5000;
const MAX_HISTORY = 500;

export interface DeviceRouteDeps {
  store: ConsoleStore;
  distribution: Pick<PolicyDistribution, 'refresh'>;
  findDevice(id: string): Promise<{ id: string; hostname: string; revoked: boolean }>;
  audit(actor: string, action: string, target: string, detail: Record<string, unknown>): Promise<void>;
}

const boundedInt = (url: URL, name: string, fallback: number, max: number) => {
  const raw = url.searchParams.get(name);
  const n = raw === null ? fallback : Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new HttpError(400, 'invalid-request', `${name} must be a whole number from 1 to ${max}`);
  return n;
};

const isoParam = (url: URL, name: string): string | null => {
  const raw = url.searchParams.get(name);
  if (raw === null) return null;
  if (!IsoDateTime.safeParse(raw).success) throw new HttpError(400, 'invalid-request', `${name} must be an ISO 8601 date-time with a time zone`);
  return raw;
};

/** The device page's data (status history, activity spans) and the "refresh policy" action. */
export function registerDeviceRoutes(router: Router, deps: DeviceRouteDeps): void {
  const { store, distribution, findDevice } = deps;
  router
    .add('GET', '/api/v1/devices/:id/history', 'devices:read', async ({ params, url }) => {
      const device = await findDevice(params.id!);
      const body: z.input<typeof DeviceHistoryResponseSchema> = {
        history: await store.listDeviceHistory(device.id, { limit: boundedInt(url, 'limit', 100, MAX_HISTORY) }),
      };
      return { status: 200, body };
    })
    .add('GET', '/api/v1/devices/:id/activity', 'devices:read', async ({ params, url }) => {
      const device = await findDevice(params.id!);
      const to = isoParam(url, 'to') ?? new Date().toISOString();
      const from = isoParam(url, 'from') ?? new Date(Date.parse(to) - DEFAULT_ACTIVITY_RANGE_MS).toISOString();
      const span = Date.parse(to) - Date.parse(from);
      if (span <= 0) throw new HttpError(400, 'invalid-request', 'from must be before to');
      if (span > MAX_ACTIVITY_RANGE_MS) throw new HttpError(400, 'invalid-request', 'ask for at most 7 days of activity at a time');
      const spans = await activitySpans(store, device.id, { from, to, maxSpans: boundedInt(url, 'limit', 2000, MAX_SPANS) });
      // Spans carry no user of their own; the device reports who is signed in through its status.
      const body: z.input<typeof DeviceActivityResponseSchema> = { spans: spans.map((s) => ({ ...s, user: null })) };
      return { status: 200, body };
    })
    .add('POST', '/api/v1/devices/:id/policy-refresh', 'devices:command', async ({ params, principal }) => {
      const device = await findDevice(params.id!);
      if (device.revoked) throw new HttpError(409, 'device-revoked', 'this device has been revoked');
      const latest = await store.latestPolicy();
      if (!latest) throw new HttpError(404, 'not-found', 'no policy has been published yet');
      const delivered = await distribution.refresh(device.id);
      await deps.audit(principal!.username, 'device.policy-refresh', device.id, { version: latest.version, delivered });
      if (!delivered) throw new HttpError(409, 'device-offline', 'the device is not connected; it receives the current policy when it next connects');
      const body: z.infer<typeof PolicyRefreshResponseSchema> = { delivered, version: latest.version };
      return { status: 200, body };
    });
}
