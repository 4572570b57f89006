import { measureProgram } from '../src/agent/local-ipc/program-identity.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TrayIpcClient } from '../src/agent/local-ipc/client.js';
import { socketPeerCredentials } from '../src/agent/local-ipc/peercred.js';
import { TrayIpcServer } from '../src/agent/local-ipc/server.js';
import { TrayRequests } from '../src/agent/local-ipc/tray-requests.js';
import { createLogger } from '../src/shared/node/log.js';
import { benchArgs, percentile, round } from './args.js';

/**
 * `npm run bench:tray-ipc [-- --requests 20000 --connections 500]` (Linux)
 * The tray socket's cost: round trips of `status` on one connection (schema checks both ways,
 * kernel-named peer), and connecting with the tray's checks (socket and directory owners,
 * SO_PEERCRED on both ends) plus a `hello`. Last line: one JSON object.
 */
const args = benchArgs({ requests: { default: '20000' }, connections: { default: '500' } });
const uid = process.getuid?.() ?? 0;
const dir = mkdtempSync(join(tmpdir(), 'vigil-ipc-bench-'));
const path = join(dir, 'run', 'tray.sock');
const requests = new TrayRequests({
  mode: 'service',
  sessionUid: () => uid,
  consoleConnected: () => true,
  policyVersion: () => 1,
  monitoring: () => ({
    appControl: { enforcement: 'pre-exec', mode: 'enforce', detail: null, marks: ['/home'] },
    idleLockSeconds: 300,
    activity: null,
    usbControl: false,
  }),
  aupGate: () => null,
  emit: () => undefined,
  lock: null,
  watch: null,
  measure: (path, peer) => measureProgram(path, peer),
});
const server = new TrayIpcServer({
  path,
  handler: requests,
  credentialsOf: socketPeerCredentials,
  userName: () => 'pupil',
  // One account opens every connection here, one after another: the per-account cap would measure refusals.
  limits: { maxPerUser: 1_000_000 },
  log: createLogger('bench', 'error'),
});
const ms = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e6;

try {
  await server.listen();
  const client = await TrayIpcClient.connect({ path, expectServerUid: uid });
  for (let i = 0; i < 200; i++) await client.call('status', {}); // warm up
  const trips: number[] = [];
  const started = process.hrtime.bigint();
  for (let i = 0; i < Number(args.requests); i++) {
    const t = process.hrtime.bigint();
    await client.call('status', {});
    trips.push(ms(t));
  }
  const perSecond = Number(args.requests) / (ms(started) / 1000);
  client.close();
  const connects: number[] = [];
  for (let i = 0; i < Number(args.connections); i++) {
    const t = process.hrtime.bigint();
    const c = await TrayIpcClient.connect({ path, expectServerUid: uid });
    await c.call('hello', { trayVersion: 'bench' });
    connects.push(ms(t));
    c.close();
  }
  trips.sort((a, b) => a - b);
  connects.sort((a, b) => a - b);
  const result = {
    bench: 'tray-ipc',
    requests: Number(args.requests),
    statusP50Ms: round(percentile(trips, 50), 3),
    statusP99Ms: round(percentile(trips, 99), 3),
    statusPerSec: Math.round(perSecond),
    connectHelloP50Ms: round(percentile(connects, 50), 3),
    connectHelloP99Ms: round(percentile(connects, 99), 3),
    node: process.versions.node,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
}
