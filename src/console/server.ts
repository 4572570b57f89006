import { AppRequestService } from './app-requests.js';
import { StationKeyService } from './station-keys.js';
import { registerStationRoutes } from './station-routes.js';
import { deliverPolicy } from './policy-delivery.js';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { ensurePrivateDir } from '../shared/files.js';
import { createLogger, type Logger } from '../shared/log.js';
import { isLoopback } from '../shared/net.js';
import { AGENT_WS_PATH } from '../shared/protocol.js';
import { AgentHub, DEFAULT_HUB_OPTIONS, type AgentHubOptions } from './agent-hub.js';
import { AupService } from './aups.js';
import { AuthService } from './auth.js';
import { firstRun, type FirstRunSecrets } from './bootstrap.js';
import { EnrollmentService } from './devices.js';
import { FeedHub } from './feed.js';
import { DeviceViews } from './device-views.js';
import { HttpError } from './http/http-error.js';
import { Router } from './http/router.js';
import { loadOrCreateConsoleIdentity, type ConsoleIdentity } from './identity.js';
import { Maintenance } from './maintenance.js';
import { PolicyService } from './policies.js';
import { registerRoutes } from './routes.js';
import { CommandService } from './commands.js';
import { ConcernService, DEFAULT_CONCERN_RETENTION_DAYS } from './concerns.js';
import { RENDERER_ROOT, SECURITY_HEADERS, serveStatic } from '../shared/node/static-files.js';
import { SqliteStore } from './store/sqlite-store.js';
import type { ConsoleStore } from './store/store.js';

export interface ConsoleOptions {
  dataDir: string;
  host: string;
  port: number;
  tlsCert?: string;
  tlsKey?: string;
  hub?: Partial<AgentHubOptions>;
  retentionDays?: number;
  /** Days a closed concern is kept (default DEFAULT_CONCERN_RETENTION_DAYS). */
  concernRetentionDays?: number;
  env?: NodeJS.ProcessEnv;
  log?: Logger;
}

export interface RunningConsole {
  url: string;
  port: number;
  identity: ConsoleIdentity;
  firstRun: FirstRunSecrets | null;
  store: ConsoleStore;
  hub: AgentHub;
  warnings: string[];
  close(): Promise<void>;
}

export async function startConsole(options: ConsoleOptions): Promise<RunningConsole> {
  const log = options.log ?? createLogger('console');
  ensurePrivateDir(options.dataDir);
  const identity = loadOrCreateConsoleIdentity(options.dataDir);
  const store = new SqliteStore(join(options.dataDir, 'console.db'));
  await store.markAllOffline();
  const auth = new AuthService(store);
  const secrets = await firstRun(store, auth, options.env ?? process.env);
  const feed = new FeedHub(200, (p) => auth.isSessionValid(p));
  const hub = new AgentHub(store, identity, feed, log.child('agents'), { ...DEFAULT_HUB_OPTIONS, ...options.hub });
  const enrollment = new EnrollmentService(store, identity.publicKey, log.child('enroll'));
  const policies = new PolicyService(store, identity);
  const aups = new AupService(store, identity, log.child('aup'));
  hub.aups = aups;
  const views = new DeviceViews(store, feed, (id) => hub.isOnline(id), log.child('devices'));
  await views.seed();
  hub.views = views;
  const concerns = new ConcernService(store);
  hub.concerns = concerns;
  const commands = new CommandService(store, identity, hub, log.child('commands'));
  const maintenance = new Maintenance(store, policies, hub, feed, log.child('maintenance'), {
    retentionDays: options.retentionDays ?? 180,
    closedConcernRetentionDays: options.concernRetentionDays ?? DEFAULT_CONCERN_RETENTION_DAYS,
    intervalMs: 3600_000,
  });
  hub.onVersionConflict = () => maintenance.reissueForConflict();
  const appRequests = new AppRequestService(store, policies, (record) => deliverPolicy(store, hub, feed, record), log.child('app-requests'), (deviceId, text) =>
    commands.issue(deviceId, { action: 'message', text, expiresInSeconds: 300 }, 'console:app-requests', 0),
  );
  hub.onEvents = (deviceId, events) => {
    void views.events(deviceId, events);
    for (const event of events) {
      if (event.type !== 'app.permission-requested') continue;
      appRequests
        .record(deviceId, event.id, event.at, event.data)
        .then(() => feed.publish({ kind: 'app-requests' }))
        .catch((error: unknown) => log.error('could not queue an application request', { deviceId, error }));
    }
  };
  maintenance.start();
  const tls = options.tlsCert && options.tlsKey;
  const router = new Router(auth.authenticate);
  registerStationRoutes(router, new StationKeyService(store, policies, (record) => deliverPolicy(store, hub, feed, record), log.child('stations')), { store, log: log.child('station-reports') });
  registerRoutes(router, { store, auth, enrollment, policies, aups, appRequests, concerns, commands, hub, feed, views, consoleKeyId: identity.keyId, secureCookies: !!tls });

  const handler = (req: IncomingMessage, res: ServerResponse) => void handleRequest(router, req, res, log);
  const server: Server = tls
    ? createHttpsServer({ cert: readFileSync(options.tlsCert!), key: readFileSync(options.tlsKey!) }, handler)
    : createHttpServer(handler);
  server.headersTimeout = 15_000;
  server.requestTimeout = 30_000;
  server.on('upgrade', (req, socket, head) => {
    socket.on('error', () => socket.destroy());
    const path = (req.url ?? '').split('?')[0];
    if (path !== AGENT_WS_PATH) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
      return;
    }
    hub.handleUpgrade(req, socket, head, req.socket.remoteAddress ?? 'unknown');
  });
  server.on('clientError', (_err, socket) => socket.destroy());

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const scheme = tls ? 'https' : 'http';
  const hostForUrl = options.host.includes(':') ? `[${options.host}]` : options.host;
  const warnings: string[] = [];
  if (!tls && !isLoopback(options.host)) {
    warnings.push(
      `serving plain HTTP on ${options.host}: passwords, session cookies and device traffic cross the network unencrypted. ` +
        'Give the console a certificate (--tls-cert/--tls-key) or put it behind a TLS proxy.',
    );
  }
  warnings.forEach((w) => log.warn(w));
  log.info('console listening', { url: `${scheme}://${hostForUrl}:${port}`, store: store.kind, keyId: identity.keyId });

  return {
    url: `${scheme}://${hostForUrl}:${port}`,
    port,
    identity,
    firstRun: secrets,
    store,
    hub,
    warnings,
    async close() {
      maintenance.stop();
      feed.close();
      await hub.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await store.close();
    },
  };
}

async function handleRequest(router: Router, req: IncomingMessage, res: ServerResponse, log: Logger): Promise<void> {
  res.on('error', () => undefined);
  try {
    const url = new URL(req.url ?? '/', 'http://console.invalid');
    const result = await router.dispatch(req, res, url, req.socket.remoteAddress ?? 'unknown');
    if (result && 'handled' in result) return;
    if (result && 'raw' in result) {
      res.writeHead(result.status, { 'Content-Type': result.contentType, 'Cache-Control': 'no-store', ...SECURITY_HEADERS, ...result.headers });
      return void res.end(result.raw);
    }
    if (result) return sendJson(res, result.status, result.body, result.headers);
    if (req.method === 'GET' && !url.pathname.startsWith('/api/')) {
      const path = url.pathname === '/' ? '/dashboard/' : url.pathname;
      if (await serveStatic(RENDERER_ROOT, path, res)) return;
    }
    throw new HttpError(404, 'not-found', 'no such page or API route');
  } catch (error) {
    if (error instanceof HttpError) return sendJson(res, error.status, { error: error.code, message: error.message }, error.headers);
    log.error('unhandled error in request', { method: req.method, url: req.url?.slice(0, 200), error });
    sendJson(res, 500, { error: 'internal', message: 'the console hit an internal error; see its log' });
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) return void res.end();
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Cache-Control': 'no-store',
    ...SECURITY_HEADERS,
    ...headers,
  });
  res.end(text);
}
