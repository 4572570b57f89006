import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busServerUnavailable, startNatsServer, type BusServer } from '../../bench/bus-servers.js';
import { postgresUnavailable, startPostgresCluster, type PostgresCluster } from '../../bench/postgres-cluster.js';
import { consoleKeyPath } from '../../src/console/identity.js';
import { openFeed } from '../helpers/feed-client.js';
import { startConsoleProcess, type ConsoleHandle } from '../helpers/fleet.js';
import { stopAll, tempDir, waitUntil } from '../helpers/processes.js';
import { connectWithHello, enrollRawDevice, type RawDevice } from '../helpers/raw-device.js';
import { skipReason } from '../helpers/requirements.js';

const unavailable = skipReason('console processes on PostgreSQL and NATS', postgresUnavailable() ?? busServerUnavailable('nats'));

let cluster: PostgresCluster;
let nats: BusServer;
let dir: ReturnType<typeof tempDir>;
let database: string;
let db: pg.Client;
const consoles: ConsoleHandle[] = [];

/** A console process on the shared database and bus, signing with the first one's key. */
async function startConsole(name: string): Promise<ConsoleHandle> {
  const dataDir = join(dir.path, name);
  if (consoles.length > 0) {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    copyFileSync(consoleKeyPath(consoles[0]!.dataDir), consoleKeyPath(dataDir));
  }
  const handle = await startConsoleProcess(dataDir, { args: ['--database', database, '--bus', nats.url] });
  consoles.push(handle);
  return handle;
}

/** The device's row as the shared database holds it. */
async function stored(deviceId: string): Promise<{ online: number; held_by: string | null }> {
  return (await db.query<{ online: number; held_by: string | null }>('SELECT online, held_by FROM devices WHERE id = $1', [deviceId])).rows[0]!;
}

/** Connects a raw device (one that never reconnects by itself) straight to a console, and waits until the store records it online. */
async function holdDevice(on: ConsoleHandle, hostname: string): Promise<RawDevice> {
  const device = await enrollRawDevice(on.url, hostname);
  await connectWithHello(on.url, device);
  await waitUntil(
    async () => (await stored(device.deviceId)).online === 1,
    30_000,
    () => `${hostname} never stored online`,
  );
  return device;
}

const logs = (...handles: ConsoleHandle[]) => handles.map((h) => `${h.proc.stdout.slice(-2000)}\n${h.proc.stderr.slice(-1500)}`).join('\n-----\n');

describe.skipIf(unavailable)('presence after a console process is killed (lease in the store)', () => {
  beforeAll(async () => {
    cluster = await startPostgresCluster();
    nats = await startNatsServer();
    dir = tempDir();
    database = await cluster.createDatabase();
    db = new pg.Client({ connectionString: database });
    await db.connect();
  }, 120_000);
  afterAll(async () => {
    await db?.end();
    await stopAll();
    await nats?.stop();
    await cluster?.stop();
    dir?.remove();
  });

  it("a device held by a process killed with SIGKILL is marked offline in the store, on the survivor's API and dashboard feed, and in its history", async () => {
    const a = await startConsole('a');
    const b = await startConsole('b');
    const device = await holdDevice(b, 'held-by-b');
    expect((await stored(device.deviceId)).held_by).not.toBeNull();
    const feedOnA = await openFeed(a.url, a.token);
    await b.stop('SIGKILL');
    // The device does not reconnect anywhere: only B's lapsed lease can take it offline.
    await waitUntil(
      async () => (await stored(device.deviceId)).online === 0,
      90_000,
      () => `the killed process's device stayed online in the store\n${logs(a)}`,
    );
    expect((await stored(device.deviceId)).held_by).toBeNull();
    const offline = await feedOnA.waitFor((m) => m.kind === 'device' && m.device.id === device.deviceId && m.device.online === false, 30_000);
    expect(offline.device.presence).toBe('offline');
    feedOnA.close();
    expect((await a.api(`/api/v1/devices/${device.deviceId}`)).body.device.online).toBe(false);
    const history = (await a.api(`/api/v1/devices/${device.deviceId}/history`)).body.history as { kind: string; presence?: string }[];
    expect(history.some((h) => h.kind === 'presence' && h.presence === 'offline')).toBe(true);
  }, 240_000);

  it('a process starting after every other was killed clears the flags they left', async () => {
    const [a] = consoles.filter((c) => c.proc.child.exitCode === null && c.proc.child.signalCode === null) as [ConsoleHandle];
    const device = await holdDevice(a, 'held-by-a');
    await a.stop('SIGKILL');
    expect((await stored(device.deviceId)).online).toBe(1);
    // No console process is running now; the next one to start finds A's lease and clears its devices once it lapses.
    const c = await startConsole('c');
    await waitUntil(
      async () => (await stored(device.deviceId)).online === 0,
      90_000,
      () => `the device stayed online in the store\n${logs(c)}`,
    );
    expect((await c.api(`/api/v1/devices/${device.deviceId}`)).body.device.online).toBe(false);
    const leases = (await db.query<{ n: string }>('SELECT COUNT(*) AS n FROM console_leases')).rows[0]!;
    // Only C's own lease is left.
    expect(Number(leases.n)).toBe(1);
  }, 240_000);

  it('a console process stopped with SIGTERM while it holds devices and a dashboard feed logs no error on its way out', async () => {
    const d = await startConsole('d');
    // Twenty devices: each disconnect is written and announced while the process stops.
    await Promise.all(Array.from({ length: 20 }, (_, i) => holdDevice(d, `held-by-d-${i}`)));
    const feed = await openFeed(d.url, d.token);
    await d.stop('SIGTERM');
    feed.close();
    expect(d.proc.child.exitCode).toBe(0);
    const output = `${d.proc.stdout}\n${d.proc.stderr}`;
    // Each log line says its level; none at ERROR or above, and no bus error by name.
    const errors = output.split('\n').filter((line) => /\b(ERROR|FATAL)\b|NatsError|CONNECTION_DRAINING/.test(line));
    expect(errors).toEqual([]);
  }, 120_000);
});
