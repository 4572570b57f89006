import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { AgentHub, DEFAULT_HUB_OPTIONS } from '../../src/console/agent-hub.js';
import { EventRouter } from '../../src/console/agent-link/event-router.js';
import { newAgentLinkStats } from '../../src/console/agent-link/stats.js';
import { loadOrCreateConsoleIdentity } from '../../src/console/identity.js';
import { openSqliteStore } from '../../src/console/store/sqlite-store.js';
import { createLogger } from '../../src/shared/node/log.js';
import { tempDir } from '../helpers/processes.js';

/**
 * The agents' endpoint turns new connections away while its event loop is late (a failover's
 * reconnect storm), before any handshake work, and takes them again once it has caught up. The
 * hub runs for real: a real HTTP server, real WebSocket clients on loopback.
 */
const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function hubOnLoopback() {
  const dir = tempDir();
  closers.push(() => dir.remove());
  const store = openSqliteStore(`${dir.path}/console.db`);
  closers.push(() => store.close());
  const stats = newAgentLinkStats();
  const log = createLogger('test', 'error');
  const hub = new AgentHub(store, loadOrCreateConsoleIdentity(dir.path), new EventRouter(stats, log), stats, log, {
    ...DEFAULT_HUB_OPTIONS,
    maxEventLoopLagMs: 300,
  });
  closers.push(() => hub.close());
  const server: Server = createServer();
  server.on('upgrade', (req, socket, head) => hub.handleUpgrade(req, socket, head, '127.0.0.1'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { hub, stats, url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/agent` };
}

/** Opens an agent WebSocket; resolves with the HTTP status of its upgrade (101 when it opened). */
function upgradeStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('open', () => {
      ws.terminate();
      resolve(101);
    });
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.once('error', reject);
  });
}

function hold(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

describe('agent endpoint admission', () => {
  it('answers 503 to an upgrade that arrives while the event loop is late, counted, and opens again once it has caught up', async () => {
    const { stats, url } = await hubOnLoopback();
    expect(await upgradeStatus(url)).toBe(101);
    // The request is written, then this thread (the console's loop) is held before it can read it.
    const refused = upgradeStatus(url);
    setImmediate(() => hold(800));
    expect(await refused).toBe(503);
    expect(stats.refusedBusy).toBe(1);
    // Nothing was accepted for it: no connection, no challenge, no pending slot.
    expect(stats.accepted).toBe(1);
    await new Promise((r) => setTimeout(r, 600));
    expect(await upgradeStatus(url)).toBe(101);
    expect(stats.accepted).toBe(2);
  });
});
