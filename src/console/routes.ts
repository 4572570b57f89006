import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import {
  CreateEnrollTokenRequestSchema,
  EnrollRequestSchema,
  PolicyPushRequestSchema,
  AppRequestApproveSchema,
  AppRequestDeclineSchema,
  AppRequestStatusSchema,
  UninstallNoticeSchema,
} from '../shared/api.js';
import { acceptUninstallNotice } from './device-uninstall.js';
import { DatabaseHealth } from './health.js';
import { createLogger } from '../shared/node/log.js';
import type { AppRequestService } from './app-requests.js';
import type { ConcernService } from './concerns.js';
import { ConcernStatusSchema, ConcernUpdateSchema } from '../shared/concern.js';
import { randomSecret, sha256Hex } from '../shared/node/crypto.js';
import type { AgentHub } from './agent-hub.js';
import { CLOSE } from './agent-hub.js';
import type { BusStats } from './bus/bus.js';
import type { ClusterBroadcasts } from './cluster/broadcasts.js';
import type { EnrollmentService } from './devices.js';
import type { DeviceViews } from './device-views.js';
import { registerDeviceRoutes } from './device-routes.js';
import type { FeedHub } from './feed.js';
import { readJson } from './http/body.js';
import { HttpError } from './http/http-error.js';
import type { Principal, RouteResult, Router } from './http/router.js';
import { AupPublishRequestSchema, AupVariantSchema } from '../shared/aup.js';
import { coverageCsv, type AupService } from './aups.js';
import { LIFETIME_SETTING } from './policies/lifetime.js';
import type { PolicyPlane } from './policies/plane.js';
import { pushAnswer, registerPolicyPlaneRoutes } from './policies/plane-routes.js';
import type { PolicyDistribution } from './policies/distribution.js';
import { POLICY_BUNDLE_PATH, POLICY_DELTA_PATH } from '../shared/policies/delivery.js';
import { LIMITS } from '../shared/limits.js';
import type { CommandService } from './commands.js';
import { CommandRequestSchema } from '../shared/command.js';
import type { ConsoleStore, DeviceRecord } from './store/store.js';

export interface RouteDeps {
  store: ConsoleStore;
  enrollment: EnrollmentService;
  plane: PolicyPlane;
  aups: AupService;
  appRequests: AppRequestService;
  concerns: ConcernService;
  commands: CommandService;
  hub: AgentHub;
  /** Tells the other console processes: a new AUP for their devices, a device to cut off. */
  broadcasts: Pick<ClusterBroadcasts, 'aupPublished' | 'disconnect'>;
  distribution: PolicyDistribution;
  /** Messages sent and received on the bus between console processes, and those dropped. */
  busStats: BusStats;
  /** The AUP variant of the policy a device is offered (its group set's). */
  aupVariantOf(deviceId: string): Promise<string | undefined>;
  feed: FeedHub;
  views: DeviceViews;
  consoleKeyId: string;
}

const routeLog = createLogger('console');
const ok = (body: unknown, status = 200): RouteResult => ({ status, body });
const actor = (p: Principal | null) => p?.username ?? 'anonymous';
export const limitParam = (url: URL, max: number) => {
  const raw = url.searchParams.get('limit');
  const n = raw === null ? 100 : Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new HttpError(400, 'invalid-request', `limit must be a whole number from 1 to ${max}`);
  return n;
};
/** Devices, enrollment tokens and application requests are named by UUIDs. */
const DeviceIdParam = z.uuid();
const requestId = (id: string) => {
  if (!DeviceIdParam.safeParse(id).success) throw new HttpError(400, 'invalid-request', 'not a request id');
  return id;
};

/** All `/api/v1` routes. Each states the permission it needs; the router enforces it. */
export function registerRoutes(router: Router, deps: RouteDeps): void {
  const { store, hub } = deps;
  const health = new DatabaseHealth(() => store.ping());
  const audit = (p: Principal | null, action: string, target: string | null, detail: Record<string, unknown> = {}) =>
    store.appendAudit({ at: new Date().toISOString(), actor: actor(p), action, target, detail });

  router
    // 503 while the database cannot be reached: the load balancer sends agents and browsers elsewhere.
    // The cause goes to the log, not to an unauthenticated caller.
    .add('GET', '/healthz', 'public', async () => {
      const report = await health.check();
      if (report.ok) return ok({ ok: true, database: 'reachable', devicesOnline: hub.onlineCount });
      routeLog.warn('health check failed', { problem: report.problem });
      return ok({ ok: false, database: 'unreachable', devicesOnline: hub.onlineCount }, 503);
    })
    .add('POST', '/api/v1/enroll', 'public', async ({ req, ip }) => {
      const body = await readJson(req, EnrollRequestSchema);
      const enrolled = await deps.enrollment.enroll(body, ip);
      // Its token's default groups or a membership rule may put it in a group set of its own.
      await deps.plane.deviceChanged(enrolled.deviceId);
      return ok(enrolled, 201);
    })

    .add('GET', '/api/v1/devices', 'devices:read', async () => {
      const devices = await store.listDevices();
      const latest = await store.latestPolicy();
      const summaries = await Promise.all(devices.map((d) => deps.views.summary(d)));
      return ok({ devices: summaries, currentPolicyVersion: latest?.version ?? null, groups: await deps.plane.groupMembers() });
    })
    .add('GET', '/api/v1/devices/:id', 'devices:read', async ({ params }) => {
      const device = await findDevice(store, params.id!);
      return ok({ device: await deps.views.summary(device) });
    })
    .add('POST', '/api/v1/devices/:id/revoke', 'devices:revoke', async ({ params, principal }) => {
      const device = await findDevice(store, params.id!);
      const changed = await store.revokeDevice(device.id);
      deps.broadcasts.disconnect(device.id, CLOSE.revoked, 'revoked');
      deps.views.forget(device.id);
      // Open dashboards show the device as revoked at once (the device page updates live).
      await deps.views.refresh(device.id);
      // Its group set's bundle is no longer fetched by it; the set it leaves may now be empty.
      if (changed) await deps.plane.deviceChanged(device.id);
      if (changed) await audit(principal, 'device.revoked', device.id, { hostname: device.hostname });
      return ok({ revoked: true, changed });
    })
    // Public: the device key signs the notice (the package's removal script sends it).
    .add('POST', '/api/v1/devices/:id/uninstall', 'public', async ({ req, params, ip }) => {
      const notice = await readJson(req, UninstallNoticeSchema);
      const disconnect = (id: string) => deps.broadcasts.disconnect(id, CLOSE.revoked, 'uninstalled');
      return ok(await acceptUninstallNotice({ store, disconnect, log: routeLog }, params.id!, notice, ip));
    })
    .add('POST', '/api/v1/devices/:id/commands', 'devices:command', async ({ req, params, principal }) => {
      const device = await findDevice(store, params.id!);
      const body = await readJson(req, CommandRequestSchema);
      if (device.revoked) throw new HttpError(409, 'device-revoked', 'this device has been revoked');
      const issued = await deps.commands.issue(device.id, body, actor(principal));
      // Commands are live only: a lock that arrives when the laptop next wakes is a surprise.
      if (!issued.delivered) throw new HttpError(409, 'device-offline', 'the device is not connected; commands are not queued');
      return ok(issued, issued.result ? 200 : 202);
    })

    .add('GET', '/api/v1/events', 'events:read', async ({ url }) => {
      const deviceId = url.searchParams.get('device') ?? undefined;
      if (deviceId !== undefined && !DeviceIdParam.safeParse(deviceId).success) throw new HttpError(400, 'invalid-request', 'device must be a device id');
      const type = url.searchParams.get('type') ?? undefined;
      const events = await store.listEvents({ deviceId, type, limit: limitParam(url, 1000) });
      return ok({ events });
    })
    .add('GET', '/api/v1/stats', 'devices:read', async () =>
      ok({
        hub: hub.stats,
        bus: deps.busStats,
        overBudget: hub.budgets.report(),
        online: hub.onlineCount,
        feedSubscribers: deps.feed.subscriberCount,
        events: await store.countEvents(),
        policyDelivery: deps.distribution.stats,
      }),
    )

    .add('GET', '/api/v1/policies', 'policy:read', async ({ url }) => ok({ policies: await store.listPolicies(limitParam(url, 500)) }))
    .add('GET', '/api/v1/policies/current', 'policy:read', async () => {
      const latest = await store.latestPolicy();
      if (!latest) throw new HttpError(404, 'not-found', 'no policy has been published yet');
      return ok(latest);
    })
    .add('POST', '/api/v1/policies', 'policy:push', async ({ req, principal }) => {
      // A document without a policy name goes onto the baseline policy, through the policy plane.
      const body = await readJson(req, PolicyPushRequestSchema, { maxBytes: LIMITS.policyPushMaxBytes, limitName: 'the policy push limit' });
      // The bundle lifetime asked for holds for this and later publications; a refused push leaves it as it was.
      const lifetime = await store.getSetting(LIFETIME_SETTING);
      await store.setSetting(LIFETIME_SETTING, String(body.expiresInDays));
      const outcome = await deps.plane.push(null, body.policy, body.mode, { actor: actor(principal) }).catch(async (error: unknown) => {
        if (lifetime !== null) await store.setSetting(LIFETIME_SETTING, lifetime);
        throw error;
      });
      if (!outcome.ok) {
        if (lifetime !== null) await store.setSetting(LIFETIME_SETTING, lifetime);
        return pushAnswer(outcome);
      }
      const version = outcome.version ?? (await store.latestPolicy())?.version ?? null;
      return ok({ version, keyId: deps.consoleKeyId, deliveredTo: outcome.notified, policy: outcome.policy, revision: outcome.revision }, 201);
    })

    // Devices fetch their signed policy here after a policy.available notice; they authenticate
    // with their device key (Vigil-Device), not a user session.
    .add('GET', `${POLICY_BUNDLE_PATH}/:digest`, 'public', async ({ req, res, url }) => {
      await deps.distribution.serveFetch(req, res, url.pathname);
      return { handled: true };
    })
    .add('GET', `${POLICY_DELTA_PATH}/:from/:to`, 'public', async ({ req, res, url }) => {
      await deps.distribution.serveFetch(req, res, url.pathname);
      return { handled: true };
    })

    .add('GET', '/api/v1/app-requests', 'app-requests:manage', async ({ url }) => {
      const status = url.searchParams.get('status') ?? undefined;
      const parsed = status === undefined ? undefined : AppRequestStatusSchema.safeParse(status);
      if (parsed && !parsed.success) throw new HttpError(400, 'invalid-request', 'status must be pending, approved or declined');
      return ok({ requests: await store.listAppRequests({ status: parsed?.data, limit: limitParam(url, 1000) }) });
    })
    .add('POST', '/api/v1/app-requests/:id/approve', 'app-requests:manage', async ({ req, params, principal }) => {
      const id = requestId(params.id!);
      const body = await readJson(req, AppRequestApproveSchema);
      if (body.expiresAt && Date.parse(body.expiresAt) <= Date.now()) throw new HttpError(400, 'invalid-request', 'expiresAt is in the past');
      const result = await deps.appRequests.approve(id, body, actor(principal));
      deps.feed.publish({ kind: 'app-requests' });
      return ok(result);
    })
    .add('POST', '/api/v1/app-requests/:id/decline', 'app-requests:manage', async ({ req, params, principal }) => {
      const id = requestId(params.id!);
      const body = await readJson(req, AppRequestDeclineSchema);
      const request = await deps.appRequests.decline(id, body.note, actor(principal));
      deps.feed.publish({ kind: 'app-requests' });
      return ok({ request });
    })

    .add('GET', '/api/v1/concerns', 'concerns:manage', async ({ url }) => {
      const status = url.searchParams.get('status') ?? undefined;
      const parsed = status === undefined ? undefined : ConcernStatusSchema.safeParse(status);
      if (parsed && !parsed.success) throw new HttpError(400, 'invalid-request', 'status must be new, in-progress or closed');
      return ok({ concerns: await deps.concerns.list(parsed?.data, limitParam(url, 1000)) });
    })
    .add('GET', '/api/v1/concerns/:id', 'concerns:manage', async ({ params }) => ok({ concern: await deps.concerns.get(requestId(params.id!)) }))
    .add('POST', '/api/v1/concerns/:id', 'concerns:manage', async ({ req, params, principal }) => {
      const id = requestId(params.id!);
      const body = await readJson(req, ConcernUpdateSchema);
      return ok({ concern: await deps.concerns.update(id, body, actor(principal)) });
    })

    .add('GET', '/api/v1/aups', 'aup:read', async () => ok({ aups: await store.listAups(), variants: await deps.aups.variantsInUse() }))
    .add('POST', '/api/v1/aups', 'aup:publish', async ({ req, principal }) => {
      const body = await readJson(req, AupPublishRequestSchema);
      const record = await deps.aups.publish(body.variant, body.title, body.markdown, actor(principal));
      const deliveredTo = await hub.broadcastAup(record.signed, deps.aupVariantOf);
      deps.broadcasts.aupPublished(record.variant, record.version);
      return ok({ variant: record.variant, version: record.version, deliveredTo }, 201);
    })
    .add('GET', '/api/v1/aups/coverage', 'aup:read', async ({ url }) => {
      const variant = url.searchParams.get('variant') ?? undefined;
      if (variant !== undefined && !AupVariantSchema.safeParse(variant).success) throw new HttpError(400, 'invalid-request', 'not an AUP variant name');
      const rows = await deps.aups.coverage(variant);
      if (url.searchParams.get('format') === 'csv') {
        return {
          status: 200,
          raw: coverageCsv(rows),
          contentType: 'text/csv; charset=utf-8',
          headers: { 'Content-Disposition': 'attachment; filename="aup-coverage.csv"' },
        };
      }
      return ok({ rows });
    })

    .add('GET', '/api/v1/enroll-tokens', 'enroll-tokens:manage', async () => {
      const [tokens, groups] = await Promise.all([store.listEnrollTokens(), store.listTokenGroups()]);
      return ok({ tokens: tokens.map(({ tokenHash: _hidden, ...t }) => ({ ...t, groups: groups.get(t.id) ?? [] })) });
    })
    .add('POST', '/api/v1/enroll-tokens', 'enroll-tokens:manage', async ({ req, principal }) => {
      const body = await readJson(req, CreateEnrollTokenRequestSchema);
      const known = new Set((await deps.plane.groups()).map((g) => g.name));
      const unknown = (body.groups ?? []).filter((g) => !known.has(g));
      if (unknown.length > 0) throw new HttpError(400, 'invalid-request', `no such group: ${unknown.join(', ')}`);
      const token = randomSecret(24);
      const record = {
        id: randomUUID(),
        tokenHash: sha256Hex(token),
        label: body.label,
        createdBy: actor(principal),
        createdAt: new Date().toISOString(),
        expiresAt: new Date(Date.now() + body.expiresInHours * 3600_000).toISOString(),
        maxUses: body.maxUses,
        uses: 0,
        revoked: false,
      };
      await store.createEnrollToken(record);
      await audit(principal, 'enroll-token.created', record.id, { label: record.label, expiresAt: record.expiresAt });
      if (body.groups?.length) await deps.plane.setTokenGroups(record.id, body.groups, { actor: actor(principal) });
      return ok({ id: record.id, token, expiresAt: record.expiresAt }, 201);
    })

    .add('POST', '/api/v1/enroll-tokens/:id/revoke', 'enroll-tokens:manage', async ({ params, principal }) => {
      const id = params.id!;
      if (!DeviceIdParam.safeParse(id).success) throw new HttpError(400, 'invalid-request', 'not a token id');
      const changed = await store.revokeEnrollToken(id);
      if (!changed && !(await store.listEnrollTokens()).some((t) => t.id === id)) throw new HttpError(404, 'not-found', 'no such enrollment token');
      if (changed) await audit(principal, 'enroll-token.revoked', id);
      return ok({ revoked: true, changed });
    })

    // A leaked token (it was on agents' command lines, readable with ps): who enrolled with it, and revoking them all.
    .add('GET', '/api/v1/enroll-tokens/:id/devices', 'enroll-tokens:manage', async ({ params }) => {
      const devices = await devicesEnrolledWith(store, params.id!);
      return ok({ devices: devices.map(({ id, hostname, platform, enrolledAt, revoked }) => ({ id, hostname, platform, enrolledAt, revoked })) });
    })
    .add('POST', '/api/v1/enroll-tokens/:id/revoke-devices', 'devices:revoke', async ({ params, principal }) => {
      const revoked: string[] = [];
      for (const device of await devicesEnrolledWith(store, params.id!)) {
        if (!(await store.revokeDevice(device.id))) continue;
        deps.broadcasts.disconnect(device.id, CLOSE.revoked, 'revoked');
        deps.views.forget(device.id);
        await audit(principal, 'device.revoked', device.id, { hostname: device.hostname, enrolledWith: params.id! });
        revoked.push(device.id);
      }
      return ok({ revoked });
    })

    .add('GET', '/api/v1/feed', 'feed:subscribe', async ({ res, principal }) => {
      if (!deps.feed.subscribe(res, principal!)) {
        throw new HttpError(429, 'too-many-streams', 'too many live feeds are open for this account; close some dashboard tabs');
      }
      return { handled: true };
    });

  registerPolicyPlaneRoutes(router, { plane: deps.plane, tokenExists: async (id) => (await store.listEnrollTokens()).some((t) => t.id === id) });

  registerDeviceRoutes(router, {
    store,
    distribution: deps.distribution,
    findDevice: (id) => findDevice(store, id),
    audit: (username, action, target, detail) => audit({ username } as Principal, action, target, detail),
  });
}

async function findDevice(store: ConsoleStore, id: string) {
  if (!DeviceIdParam.safeParse(id).success) throw new HttpError(400, 'invalid-request', 'not a device id');
  const device = await store.getDevice(id);
  if (!device) throw new HttpError(404, 'not-found', 'no such device');
  return device;
}

/** The devices enrolled with one enrollment token (404 for a token that does not exist). */
async function devicesEnrolledWith(store: ConsoleStore, tokenId: string): Promise<DeviceRecord[]> {
  if (!DeviceIdParam.safeParse(tokenId).success) throw new HttpError(400, 'invalid-request', 'not a token id');
  if (!(await store.listEnrollTokens()).some((t) => t.id === tokenId)) throw new HttpError(404, 'not-found', 'no such enrollment token');
  return (await store.listDevices()).filter((d) => d.enrolledWith === tokenId);
}
