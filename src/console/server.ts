import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../shared/node/log.js';
import { isLoopback } from '../shared/net.js';
import { AGENT_WS_PATH } from '../shared/protocol.js';
import type { AgentHub, AgentHubOptions } from './agent-hub.js';
import type { FirstRunSecrets } from './bootstrap.js';
import { composeConsole } from './composition.js';
import { clientAddress } from './http/client-address.js';
import { HttpError } from './http/http-error.js';
import type { ResponseHeaders, Router } from './http/router.js';
import type { ConsoleIdentity } from './identity.js';
import type { PolicyDistribution } from './policies/distribution.js';
import type { PolicyPlane } from './policies/plane.js';
import { RENDERER_ROOT, SECURITY_HEADERS, serveStatic } from '../shared/node/static-files.js';
import type { ConsoleStore } from './store/store.js';
import type { SsoConfig } from '../shared/sso-config.js';

/**
 * Connections the kernel holds for the console before it accepts them (capped by
 * net.core.somaxconn, 4096 on current kernels). Node's default, 511, overflowed when a failover
 * sent thousands of agents at once: the kernel dropped the rest, the balancer's health checks
 * among them, and it took the survivors out of rotation ("Layer4 timeout"). Held here, they are
 * accepted within a turn, and the agent endpoint turns away what it has no time for
 * (agent-link/admission.ts) while the checks are answered.
 */
const LISTEN_BACKLOG = 4096;
export interface ConsoleOptions {
  dataDir: string;
  /** A postgres:// URL (several console processes); without it, embedded SQLite in dataDir. */
  database?: string;
  /** A nats:// or tls:// URL (credentials in it or in VIGIL_BUS_*: bus/bus-url.ts): the message bus the processes on one `database` share (needs `database`). */
  bus?: string;
  /** The CA file the bus server's certificate is checked by (TLS then required); else VIGIL_BUS_CA. */
  busCa?: string;
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
  /** Single sign-on through the school's OpenID provider. */
  sso?: { config: SsoConfig; clientSecret?: string };
  /** Load balancers whose X-Forwarded-For names the client (http/client-address.ts). */
  trustedProxies?: ReadonlySet<string>;
}

export interface RunningConsole {
  url: string;
  port: number;
  identity: ConsoleIdentity;
  firstRun: FirstRunSecrets | null;
  store: ConsoleStore;
  hub: AgentHub;
  distribution: PolicyDistribution;
  plane: PolicyPlane;
  warnings: string[];
  close(): Promise<void>;
}

/** The console's HTTP and WebSocket server over the parts composition.ts builds. */
export async function startConsole(options: ConsoleOptions): Promise<RunningConsole> {
  const tls = options.tlsCert && options.tlsKey;
  const { log, identity, store, hub, distribution, plane, http: router, firstRun: secrets, stop } = await composeConsole({ ...options, secureCookies: !!tls });
  const proxies = options.trustedProxies ?? new Set<string>();
  const handler = (req: IncomingMessage, res: ServerResponse) => void handleRequest(router, req, res, log, clientAddress(req, proxies));
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
    hub.handleUpgrade(req, socket, head, clientAddress(req, proxies));
  });
  server.on('clientError', (_err, socket) => socket.destroy());

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: options.port, host: options.host, backlog: LISTEN_BACKLOG }, () => resolve());
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
    distribution,
    plane,
    warnings,
    async close() {
      await stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await store.close();
    },
  };
}

async function handleRequest(router: Router, req: IncomingMessage, res: ServerResponse, log: Logger, ip: string): Promise<void> {
  res.on('error', () => undefined);
  try {
    const url = new URL(req.url ?? '/', 'http://console.invalid');
    const result = await router.dispatch(req, res, url, ip);
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

function sendJson(res: ServerResponse, status: number, body: unknown, headers: ResponseHeaders = {}): void {
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
