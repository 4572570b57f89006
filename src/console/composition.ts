import { ensurePrivateDir } from '../shared/node/files.js';
import { createLogger, type Logger } from '../shared/node/log.js';
import { registerAgentConsumers } from './agent-link/consumers.js';
import { DeviceSync } from './agent-link/device-sync.js';
import { EventRouter } from './agent-link/event-router.js';
import { newAgentLinkStats } from './agent-link/stats.js';
import { AgentHub, DEFAULT_HUB_OPTIONS, type AgentHubOptions } from './agent-hub.js';
import { AppRequestService } from './app-requests.js';
import { AupService } from './aups.js';
import { AccountService } from './accounts.js';
import { registerAccountRoutes } from './account-routes.js';
import { AuthService, DEFAULT_AUTH_OPTIONS, SESSION_COOKIE } from './auth.js';
import { firstRun, type FirstRunSecrets } from './bootstrap.js';
import { CommandService } from './commands.js';
import { openConsoleBus } from './bus/open.js';
import type { ConsoleBus } from './bus/bus.js';
import { ClusterBroadcasts } from './cluster/broadcasts.js';
import { CommandRelay } from './cluster/command-relay.js';
import { ClusterPresence } from './cluster/presence.js';
import { PresenceLease } from './cluster/presence-lease.js';
import { ConcernService, DEFAULT_CONCERN_RETENTION_DAYS } from './concerns.js';
import { DeviceViews } from './device-views.js';
import { EnrollmentService } from './devices.js';
import { EventWriter } from './event-writer.js';
import { FeedHub } from './feed.js';
import { Router } from './http/router.js';
import { refuseCrossSite } from './http/same-origin.js';
import { loadOrCreateConsoleIdentity, type ConsoleIdentity } from './identity.js';
import { Maintenance } from './maintenance.js';
import { composePolicy } from './policies/compose.js';
import type { PolicyDistribution } from './policies/distribution.js';
import type { PolicyPlane } from './policies/plane.js';
import { registerRoutes } from './routes.js';
import { SecondFactorService } from './second-factor.js';
import { registerSignInRoutes } from './sign-in-routes.js';
import { OidcSignIn } from './sso/oidc-sign-in.js';
import type { SsoConfig } from '../shared/sso-config.js';
import { StationKeyService } from './station-keys.js';
import { registerStationRoutes } from './station-routes.js';
import { registerAdminRoutes } from './admin-routes.js';
import { loadSharedConsoleIdentity } from './shared-identity.js';
import { openConsoleStore } from './store/open.js';
import { postgresPeriodicLock, SOLE_PROCESS } from './store/periodic-lock.js';
import type { ConsoleStore } from './store/store.js';

export interface ConsoleConfig {
  dataDir: string;
  /** A postgres:// URL: the store several console processes share. Without it, embedded SQLite in dataDir. */
  database?: string;
  /** A nats:// or tls:// URL (credentials in it or in VIGIL_BUS_*: bus/bus-url.ts): the message bus console processes on one `database` share (docs/scaling.md). */
  bus?: string;
  /** The CA file the bus server's certificate is checked by (TLS then required); else VIGIL_BUS_CA. */
  busCa?: string;
  hub?: Partial<AgentHubOptions>;
  retentionDays?: number;
  /** Days a closed concern is kept (default DEFAULT_CONCERN_RETENTION_DAYS). */
  concernRetentionDays?: number;
  /** Whether the HTTP server speaks TLS (session cookies are then marked Secure). */
  secureCookies: boolean;
  /** Single sign-on through the school's OpenID provider (--sso-config). */
  sso?: { config: SsoConfig; clientSecret?: string };
  env?: NodeJS.ProcessEnv;
  log?: Logger;
}

/** Everything the HTTP/WebSocket server needs, built once. */
export interface ConsoleParts {
  log: Logger;
  identity: ConsoleIdentity;
  store: ConsoleStore;
  bus: ConsoleBus;
  hub: AgentHub;
  distribution: PolicyDistribution;
  plane: PolicyPlane;
  http: Router;
  firstRun: FirstRunSecrets | null;
  /** Stops timers and connections (before the server closes); the store is closed after it. */
  stop(): Promise<void>;
}

/**
 * The console's composition root: every service is built here, once, and gets what it needs
 * through its constructor. Nothing is wired later: the event router's table of who takes which
 * agent frame is filled in here too (agent-link/consumers.ts), before the server listens.
 */
export async function composeConsole(config: ConsoleConfig): Promise<ConsoleParts> {
  const log = config.log ?? createLogger('console');
  ensurePrivateDir(config.dataDir);
  const bus = await openConsoleBus(config, log.child('bus'));
  let store: ConsoleStore;
  try {
    store = await openConsoleStore(config);
  } catch (error) {
    await bus.close();
    throw error;
  }
  let identity: ConsoleIdentity;
  try {
    identity = store.kind === 'sqlite' ? loadOrCreateConsoleIdentity(config.dataDir) : await loadSharedConsoleIdentity(store, config.dataDir);
  } catch (error) {
    await store.close();
    await bus.close();
    throw error;
  }
  // One embedded process holds every connection, so none is online at its start. A shared
  // database's other processes still hold theirs: presence there is what each hub knows.
  if (store.kind === 'sqlite') await store.markAllOffline();
  const secondFactor = new SecondFactorService(store);
  const auth = new AuthService(store, DEFAULT_AUTH_OPTIONS, secondFactor, bus);
  const secrets = await firstRun(store, auth, config.env ?? process.env);
  const feed = new FeedHub(200, (p) => auth.isSessionValid(p), bus);

  const stats = newAgentLinkStats();
  const agentLog = log.child('agents');
  const agentRouter = new EventRouter(stats, agentLog);
  const hub = new AgentHub(store, identity, agentRouter, stats, agentLog, { ...DEFAULT_HUB_OPTIONS, ...config.hub });
  // Every console process passes a policy change to its own devices (cluster/broadcasts.ts): the
  // announcement is late-bound, as the broadcasts need the distribution built here.
  let broadcasts: ClusterBroadcasts | null = null;
  const { plane, distribution, aupVariantOf } = await composePolicy({
    store,
    identity,
    hub,
    feed,
    log: agentLog,
    announce: (change) => broadcasts?.policyChanged(change),
    othersListening: () => !bus.alone,
  });
  broadcasts = new ClusterBroadcasts(bus, store, hub, { plane, distribution, aupVariantOf }, agentLog.child('cluster'));
  // Which process holds which device; a device held elsewhere is online here too. Devices of a
  // process that stops are shown again (offline) by refreshing their views.
  const relay = new CommandRelay(bus, hub, log.child('commands'));
  const presence = new ClusterPresence(
    bus,
    hub,
    (id) => relay.release(id),
    (ids) => void Promise.all(ids.map((id) => views.refresh(id))).catch((error: unknown) => log.error('could not refresh devices', { error })),
    agentLog.child('presence'),
  );
  const views = new DeviceViews(
    store,
    feed,
    (id) => presence.isOnline(id),
    log.child('devices'),
    aupVariantOf,
    (id) => hub.budgets.droppedFrom(id),
  );
  await views.seed();
  // The store's online flags: each device is held under this process's lease; the devices of a
  // process killed without a word are marked offline once its lease lapses (cluster/presence-lease.ts).
  const lease = new PresenceLease(
    store,
    bus.processId,
    () => hub.heldDevices(),
    async ({ processes, devices }) => {
      for (const process of processes) presence.forget(process);
      const at = new Date().toISOString();
      for (const id of devices) {
        await views.disconnected(id, at);
        await views.refresh(id);
      }
    },
    agentLog.child('lease'),
  );
  await lease.start();

  const enrollment = new EnrollmentService(store, identity.publicKey, log.child('enroll'));
  const aups = new AupService(store, identity, log.child('aup'), aupVariantOf);
  const concerns = new ConcernService(store);
  const commands = new CommandService(store, identity, relay, log.child('commands'));
  const periodicLock = config.database ? postgresPeriodicLock(config.database) : SOLE_PROCESS;
  const maintenance = new Maintenance(store, distribution, log.child('maintenance'), {
    retentionDays: config.retentionDays ?? 180,
    closedConcernRetentionDays: config.concernRetentionDays ?? DEFAULT_CONCERN_RETENTION_DAYS,
    intervalMs: 3600_000,
    lock: periodicLock,
  });
  const appRequests = new AppRequestService(store, plane, log.child('app-requests'), (deviceId, text) =>
    commands.issue(deviceId, { action: 'message', text, expiresInSeconds: 300 }, 'console:app-requests', 0),
  );
  const stations = new StationKeyService(store, distribution, log.child('stations'));
  const sync = new DeviceSync(
    store,
    views,
    {
      conflicts: (version, digest) => distribution.conflicts(version, digest),
      currentVersion: () => distribution.currentVersion(),
      aupVariantOf,
      reissueForConflict: () => maintenance.reissueForConflict(),
      hostnameChanged: async (deviceId, hostname) => {
        await store.setDeviceHostname(deviceId, hostname);
        await plane.deviceChanged(deviceId);
      },
    },
    agentLog,
    bus.processId,
  );
  registerAgentConsumers(agentRouter, { sync, events: new EventWriter(store), concerns, aups, views, appRequests, commands, feed, stats, log: agentLog });
  // After DeviceSync: a device's hello is recorded before it is offered a policy.
  distribution.register(agentRouter);
  // After DeviceSync: the device's record says online before other processes hear it is here.
  relay.register(agentRouter);
  presence.register(agentRouter);

  const http = new Router(auth.authenticate, (req) => refuseCrossSite(req, SESSION_COOKIE));
  const sso = config.sso ? new OidcSignIn(config.sso.config, config.sso.clientSecret, store, auth, log.child('sso')) : null;
  registerSignInRoutes(http, { store, auth, secondFactor, sso, secureCookies: config.secureCookies });
  registerAccountRoutes(http, { store, auth, accounts: new AccountService(store, auth, secondFactor), secondFactor });
  registerStationRoutes(http, stations, { store, log: log.child('station-reports') });
  registerRoutes(http, {
    store,
    enrollment,
    plane,
    aups,
    appRequests,
    concerns,
    commands,
    hub,
    broadcasts,
    busStats: bus.stats,
    distribution,
    aupVariantOf,
    feed,
    views,
    consoleKeyId: identity.keyId,
  });
  registerAdminRoutes(http, { store, aups });
  maintenance.start();

  return {
    log,
    identity,
    store,
    bus,
    hub,
    distribution,
    plane,
    http,
    firstRun: secrets,
    async stop() {
      maintenance.stop();
      distribution.stop();
      await periodicLock.close();
      // Devices first, while the bus is open: their disconnects reach the store, the dashboards
      // and the other processes; then the lease; then nothing publishes any more and the bus
      // drains (a publish during the drain is the bus client's CONNECTION_DRAINING error).
      await hub.close();
      await sync.close();
      await lease.stop();
      feed.close();
      presence.close();
      broadcasts.close();
      relay.close();
      await bus.close();
    },
  };
}
