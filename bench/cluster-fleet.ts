import { createInterface } from 'node:readline';
import { createLogger } from '../src/shared/node/log.js';
import { benchArgs } from './args.js';
import { activityRound, simHelloHolding } from './sim-activity.js';
import { connectSimAgents, enrollSimAgents, insertSimDevices, type SimIdentity } from './sim-agents.js';

/**
 * One process of `npm run bench:cluster`'s fleet (bench/cluster-bench.ts starts several: each
 * agent holds a socket here, and a process may hold 20,000 files). Agents enroll (or, given
 * `--database` and `--console-key`, are written into the database as enrollment writes them) and
 * connect through the load balancers named in `--urls` (split evenly), then each sends every
 * `--event-interval` seconds an activity span event and a live activity frame.
 *
 * Events are kept until acknowledged and sent again after every reconnect, in order, as the
 * agent's outbox does: so a console killed between storing and acking an event, or before storing
 * it, loses nothing, and the console's idempotent insert stores the resent one once. The
 * orchestrator compares what was generated here with what PostgreSQL holds.
 *
 * Commands on stdin, one JSON object a line: {"measure":true}, {"policy":V,"at":MS},
 * {"kill":MS} (a console was killed then), {"stop":true} (stop generating, drain, report).
 */
const args = benchArgs({
  urls: { default: '' },
  token: { default: '' },
  agents: { default: '1000' },
  shard: { default: '0' },
  'event-interval': { default: '30' },
  // Given both: devices are written straight into the database instead of enrolling through HTTP.
  database: { default: '' },
  // Agents started a second (0: a hundred every 20 ms).
  'connect-rate': { default: '0' },
  'console-key': { default: '' },
  // The longest wait between reconnect attempts (ms): 60000 is the agent's own.
  'backoff-max': { default: '5000' },
});
const urls = args.urls.split(',').filter(Boolean);
const backoffMaxMs = Number(args['backoff-max']);
const eventIntervalMs = Number(args['event-interval']) * 1000;
const log = createLogger('sim', 'error');
const say = (line: object) => process.stdout.write(`${JSON.stringify(line)}\n`);

interface ClusterAgent extends SimIdentity {
  seq: number;
  /** Sent (or waiting to be), not yet acknowledged: seq → the frame and when it was first sent. */
  unacked: Map<number, { frame: ReturnType<typeof activityRound>['events']; sentAt: number; measured: boolean }>;
  policyAt: Map<number, number>;
  downAt: number | null;
  backAt: number | null;
}

const fleet: ClusterAgent[] = [];
const total = Number(args.agents);
const hostnames = `cluster-sim-${args.shard}`;
const identities: SimIdentity[] =
  args.database && args['console-key']
    ? await insertSimDevices(args.database, urls, args['console-key'], total, log, hostnames, backoffMaxMs)
    : // Enrolled through every balancer at once.
      (
        await Promise.all(
          urls.map((url, i) =>
            enrollSimAgents(url, args.token, Math.floor(total / urls.length) + (i < total % urls.length ? 1 : 0), log, `${hostnames}-${i}`, 50, backoffMaxMs),
          ),
        )
      ).flatMap((share) => share.agents);
for (const a of identities) fleet.push({ ...a, seq: 0, unacked: new Map(), policyAt: new Map(), downAt: null, backAt: null });
say({ phase: 'enrolled', agents: fleet.length });

let measuring = false;
let generating = true;
let killAt: number | null = null;
let generated = 0;
let ackedMeasured = 0;
const latencies: number[] = [];

for (const agent of fleet) {
  agent.link.on('message', (message) => {
    if (message.type === 'events.ack') {
      const now = performance.now();
      for (const seq of message.seqs) {
        const sent = agent.unacked.get(seq);
        if (!sent) continue;
        agent.unacked.delete(seq);
        if (sent.measured) {
          latencies.push(Math.round(now - sent.sentAt));
          ackedMeasured++;
        }
      }
    } else if (message.type === 'policy') {
      const version = (message.bundle as { payload?: { version?: number } })?.payload?.version ?? 0;
      if (!agent.policyAt.has(version)) agent.policyAt.set(version, Date.now());
    }
  });
  agent.link.on('down', () => {
    if (killAt !== null && agent.downAt === null) agent.downAt = Date.now();
  });
}
const ready = await connectSimAgents(
  fleet,
  (identity) => {
    const agent = identity as ClusterAgent;
    agent.link.send(simHelloHolding(agent.policyAt.keys()));
    if (agent.downAt !== null && agent.backAt === null) agent.backAt = Date.now();
    // As the outbox does after a reconnect: everything not yet acknowledged, in order.
    for (const { frame } of agent.unacked.values()) agent.link.send(frame);
  },
  Number(args['connect-rate']) || undefined,
);
say({ phase: 'connected', agents: ready });

function sendRound(agent: ClusterAgent) {
  if (!generating) return;
  agent.seq++;
  generated++;
  const round = activityRound(agent.seq, eventIntervalMs);
  agent.unacked.set(agent.seq, { frame: round.events, sentAt: performance.now(), measured: measuring });
  agent.link.send(round.events);
  agent.link.send(round.activity);
}
fleet.forEach((agent, i) => {
  setTimeout(
    () => {
      sendRound(agent);
      setInterval(() => sendRound(agent), eventIntervalMs).unref();
    },
    (i / fleet.length) * eventIntervalMs,
  ).unref();
});

createInterface({ input: process.stdin }).on('line', (line) => {
  const command = JSON.parse(line) as { measure?: boolean; policy?: number; at?: number; kill?: number; stop?: boolean };
  if (command.measure) measuring = true;
  if (command.kill !== undefined) killAt = command.kill;
  if (command.policy !== undefined) pushed = { version: command.policy, at: command.at! };
  if (command.stop) void stop();
});
let pushed: { version: number; at: number } | null = null;

async function stop() {
  measuring = false;
  generating = false;
  // Drain: every generated event acknowledged (resent after reconnects as needed), up to 90 s.
  const deadline = Date.now() + 90_000;
  while (fleet.some((a) => a.unacked.size > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
  const policyTimes = pushed ? fleet.map((a) => a.policyAt.get(pushed!.version) ?? null) : [];
  const dropped = fleet.filter((a) => a.downAt !== null);
  say({
    phase: 'done',
    connected: ready,
    stillConnected: fleet.filter((a) => a.link.isReady).length,
    generated,
    unacked: fleet.reduce((n, a) => n + a.unacked.size, 0),
    ackedMeasured,
    latencies,
    pushReached: policyTimes.filter((t) => t !== null).length,
    pushLastAt: policyTimes.every((t) => t !== null) && policyTimes.length ? Math.max(...(policyTimes as number[])) : null,
    dropped: dropped.length,
    notBack: dropped.filter((a) => a.backAt === null).length,
    lastBackAt: dropped.length ? Math.max(...dropped.map((a) => a.backAt ?? 0)) : null,
    backAts: dropped.flatMap((a) => (a.backAt === null ? [] : [a.backAt])),
    pushAts: policyTimes.filter((t): t is number => t !== null),
  });
  fleet.forEach((a) => a.link.stop());
  process.stdout.write('', () => process.exit(0));
}
