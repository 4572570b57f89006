import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { connect as natsConnect, type NatsConnection } from 'nats';
import { createClient } from 'redis';
import { benchArgs, percentile, round } from './args.js';
import { busServerUnavailable, startNatsServer, startRedisServer, type BusServer } from './bus-servers.js';

/**
 * NATS against Redis pub/sub for the console's pattern: small JSON messages (a dashboard device
 * update, ~300 bytes) published by one process and fanned out to N subscriber processes.
 * Phase 1 paces messages (--rate per second) and measures publish→receive latency; phase 2
 * publishes --burst messages as fast as the client allows and measures how many per second
 * every subscriber receives. Both servers come from Debian's packages, on loopback.
 *   node dist/bench/bus-bench.js [--subscribers 4] [--rate 1000] [--paced 3000] [--burst 50000]
 */
type Kind = 'nats' | 'redis';
const SUBJECT = 'vigil.bench';
const now = () => performance.timeOrigin + performance.now();

interface BenchClient {
  publish(text: string): Promise<void> | void;
  flush(): Promise<void>;
  subscribe(onText: (text: string) => void): Promise<void>;
  close(): Promise<void>;
}

async function client(kind: Kind, url: string): Promise<BenchClient> {
  if (kind === 'nats') {
    const nc: NatsConnection = await natsConnect({ servers: url });
    const enc = new TextEncoder();
    const dec = new TextDecoder();
    return {
      publish: (text) => nc.publish(SUBJECT, enc.encode(text)),
      flush: () => nc.flush(),
      async subscribe(onText) {
        nc.subscribe(SUBJECT, { callback: (_err, msg) => onText(dec.decode(msg.data)) });
        await nc.flush();
      },
      close: () => nc.drain(),
    };
  }
  const pub = createClient({ url });
  await pub.connect();
  let inFlight: Promise<unknown>[] = [];
  let sub: ReturnType<typeof createClient> | null = null;
  return {
    publish(text) {
      inFlight.push(pub.publish(SUBJECT, text));
    },
    async flush() {
      const waiting = inFlight;
      inFlight = [];
      await Promise.all(waiting);
    },
    async subscribe(onText) {
      sub = pub.duplicate();
      await sub.connect();
      await sub.subscribe(SUBJECT, onText);
    },
    async close() {
      await sub?.quit();
      await pub.quit();
    },
  };
}

/** A subscriber process: counts and timestamps what it receives, reports at each phase's end marker. */
async function subscriber(kind: Kind, url: string): Promise<void> {
  const c = await client(kind, url);
  let latencies: number[] = [];
  let count = 0;
  let last = 0;
  await c.subscribe((text) => {
    const at = now();
    const message = JSON.parse(text) as { t: number; end?: string };
    if (message.end) {
      // Latencies of the paced phase only; the burst reports its count and last arrival.
      const line = `${JSON.stringify({ phase: message.end, count, last, latencies: message.end === 'paced' ? latencies : [] })}\n`;
      latencies = [];
      count = 0;
      process.stdout.write(line, () => {
        if (message.end === 'burst') void c.close().then(() => process.exit(0));
      });
      return;
    }
    count++;
    last = at;
    latencies.push(at - message.t);
  });
  process.stdout.write('ready\n');
}

function message(n: number): string {
  return JSON.stringify({
    t: now(),
    kind: 'device',
    device: { id: `00000000-0000-4000-8000-${String(n % 1e12).padStart(12, '0')}`, hostname: `lab-${n % 400}`, online: true, user: 'pupil', app: 'firefox' },
    origin: 'bench',
  });
}

async function run(kind: Kind, subscribers: number, rate: number, paced: number, burst: number) {
  const server: BusServer = kind === 'nats' ? await startNatsServer() : await startRedisServer();
  const children: ChildProcess[] = [];
  try {
    const reports: { phase: string; count: number; last: number; latencies: number[] }[] = [];
    let ready = 0;
    let onLine: () => void = () => undefined;
    for (let i = 0; i < subscribers; i++) {
      const child = spawn(process.execPath, [import.meta.filename, 'sub', kind, server.url], { stdio: ['ignore', 'pipe', 'inherit'] });
      children.push(child);
      createInterface({ input: child.stdout! }).on('line', (line) => {
        if (line === 'ready') ready++;
        else reports.push(JSON.parse(line));
        onLine();
      });
    }
    const until = (check: () => boolean) =>
      new Promise<void>((resolve) => {
        onLine = () => check() && resolve();
        onLine();
      });
    await until(() => ready === subscribers);
    const pub = await client(kind, server.url);

    // Phase 1: paced, so latency is the bus's and not a queue's.
    const interval = 1000 / rate;
    const start = now();
    for (let n = 0; n < paced; n++) {
      const due = start + n * interval;
      const wait = due - now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      await pub.publish(message(n));
    }
    await pub.flush();
    await pub.publish(JSON.stringify({ t: now(), end: 'paced' }));
    await pub.flush();
    await until(() => reports.filter((r) => r.phase === 'paced').length === subscribers);
    const latencies = reports
      .filter((r) => r.phase === 'paced')
      .flatMap((r) => r.latencies)
      .sort((a, b) => a - b);
    const pacedReceived = reports.filter((r) => r.phase === 'paced').reduce((a, r) => a + r.count, 0);

    // Phase 2: as fast as the client publishes (flushing every 1000 so buffers stay bounded).
    const burstStart = now();
    for (let n = 0; n < burst; n++) {
      await pub.publish(message(n));
      if (n % 1000 === 999) await pub.flush();
    }
    await pub.flush();
    await pub.publish(JSON.stringify({ t: now(), end: 'burst' }));
    await pub.flush();
    await until(() => reports.filter((r) => r.phase === 'burst').length === subscribers);
    const burstReports = reports.filter((r) => r.phase === 'burst');
    const burstEnd = Math.max(...burstReports.map((r) => r.last));
    const burstReceived = burstReports.reduce((a, r) => a + r.count, 0);
    await pub.close();
    const seconds = (burstEnd - burstStart) / 1000;
    return {
      subscribers,
      p50Ms: round(percentile(latencies, 50), 3),
      p99Ms: round(percentile(latencies, 99), 3),
      maxMs: round(latencies.at(-1) ?? null, 3),
      pacedLost: paced * subscribers - pacedReceived,
      msgsPerSec: Math.round(burst / seconds),
      deliveriesPerSec: Math.round(burstReceived / seconds),
      burstLost: burst * subscribers - burstReceived,
    };
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await server.stop();
  }
}

if (process.argv[2] === 'sub') {
  await subscriber(process.argv[3] as Kind, process.argv[4]!);
} else {
  const args = benchArgs({ subscribers: { default: '4' }, rate: { default: '1000' }, paced: { default: '3000' }, burst: { default: '50000' } });
  const result: Record<string, unknown> = { bench: 'bus', messageBytes: message(0).length };
  for (const kind of ['nats', 'redis'] as const) {
    const missing = busServerUnavailable(kind);
    if (missing) throw new Error(missing);
    const r = await run(kind, Number(args.subscribers), Number(args.rate), Number(args.paced), Number(args.burst));
    console.log(`${kind}: ${JSON.stringify(r)}`);
    result[kind] = r;
  }
  console.log(JSON.stringify(result));
}
