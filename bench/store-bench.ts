import { deviceRecord } from './device-record.js';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { openPostgresStore } from '../src/console/store/postgres-store.js';
import { openSqliteStore } from '../src/console/store/sqlite-store.js';
import type { ConsoleStore } from '../src/console/store/store.js';
import type { AgentEvent } from '../src/shared/events.js';
import { benchArgs, percentile, round } from './args.js';
import { startPostgresCluster } from './postgres-cluster.js';

/**
 * The console store's hot path alone: group commits of event frames (insertEventBatch), as the
 * event router hands them over under load. `--postgres 1` runs it on a throwaway cluster; SQLite's
 * file is in /dev/shm unless --dir says otherwise (a real disk measures fsync, not the store).
 */
const args = benchArgs({
  devices: { default: '200' },
  frames: { default: '20' },
  events: { default: '2' },
  batches: { default: '500' },
  postgres: { default: '0' },
});
const devices = Number(args.devices);
const framesPerBatch = Number(args.frames);
const eventsPerFrame = Number(args.events);

const dir = mkdtempSync(join('/dev/shm', 'vigil-store-bench-'));
const cluster = args.postgres === '1' ? await startPostgresCluster() : null;
const store: ConsoleStore = cluster ? await openPostgresStore(await cluster.createDatabase()) : openSqliteStore(join(dir, 'console.db'));
try {
  await store.createEnrollToken({
    id: 'tok',
    tokenHash: 'h',
    label: 'bench',
    createdBy: 'bench',
    createdAt: '',
    expiresAt: '2099-01-01T00:00:00Z',
    maxUses: null,
    uses: 0,
    revoked: false,
  });
  const ids: string[] = [];
  for (let i = 0; i < devices; i++) {
    const id = randomUUID();
    ids.push(id);
    await store.enrollDevice(deviceRecord(id, `pc-${i}`), 'tok');
  }
  const seqs = new Map<string, number>(ids.map((id) => [id, 0]));
  const frame = (deviceId: string) => {
    const events: AgentEvent[] = [];
    for (let e = 0; e < eventsPerFrame; e++) {
      const seq = seqs.get(deviceId)! + 1;
      seqs.set(deviceId, seq);
      events.push({ id: randomUUID(), seq, at: new Date().toISOString(), type: 'diagnostic.test', data: { note: 'bench', n: seq } } as AgentEvent);
    }
    return { deviceId, events, receivedAt: new Date().toISOString() };
  };
  const times: number[] = [];
  let next = 0;
  const started = performance.now();
  for (let b = 0; b < Number(args.batches); b++) {
    const entries = Array.from({ length: framesPerBatch }, () => frame(ids[next++ % devices]!));
    const t0 = performance.now();
    await store.insertEventBatch(entries);
    times.push(performance.now() - t0);
  }
  const seconds = (performance.now() - started) / 1000;
  times.sort((a, b) => a - b);
  const events = times.length * framesPerBatch * eventsPerFrame;
  console.log(
    JSON.stringify({
      bench: 'store',
      store: cluster ? 'postgres' : 'sqlite',
      devices,
      eventsPerBatch: framesPerBatch * eventsPerFrame,
      batches: times.length,
      batchMsP50: round(percentile(times, 50)),
      batchMsP99: round(percentile(times, 99)),
      eventsPerSec: Math.round(events / seconds),
      stored: await store.countEvents(),
    }),
  );
} finally {
  await store.close();
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
}
