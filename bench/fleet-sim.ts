import type { AgentLink } from '../src/agent/link.js';
import { createLogger } from '../src/shared/node/log.js';
import { PROTOCOL_VERSION } from '../src/shared/protocol.js';
import { benchArgs, percentile } from './args.js';
import { connectSimAgents, enrollSimAgents } from './sim-agents.js';
import { activityRound, SIM_HELLO } from './sim-activity.js';

/**
 * A fleet of simulated agents in one process, each with its own key, enrollment and
 * authenticated WebSocket (the agent's real AgentLink). Prints progress lines and, at the end,
 * one JSON line with what it measured. Driven by console-bench.ts.
 */
const args = benchArgs({
  url: { default: 'http://127.0.0.1:8080' },
  token: { default: '' },
  agents: { default: '1000' },
  'event-interval': { default: '10' },
  'activity-frames': { default: '1' },
  duration: { default: '30' },
});
const agents = Number(args.agents);
const eventIntervalMs = Number(args['event-interval']) * 1000;
const activityFrames = args['activity-frames'] !== '0';
const durationMs = Number(args.duration) * 1000;
const log = createLogger('sim', 'error');

interface SimAgent {
  link: AgentLink;
  seq: number;
  sent: Map<number, number>;
  policyAt: Map<number, number>;
}
const fleet: SimAgent[] = [];
const latencies: number[] = [];
let acked = 0;
let measuring = false;

const say = (line: object) => process.stdout.write(`${JSON.stringify(line)}\n`);

// 1. Enroll, a few at a time (the console's enrollment is a signed HTTP request each).
const started = Date.now();
const enrolled = await enrollSimAgents(args.url, args.token, agents, log);
for (const { link } of enrolled.agents) fleet.push({ link, seq: 0, sent: new Map(), policyAt: new Map() });
say({ phase: 'enrolled', agents: fleet.length, ms: Date.now() - started });

// 2. Connect everyone and wait until all are authenticated.
for (const agent of fleet) {
  agent.link.on('message', (message) => {
    if (message.type === 'events.ack') {
      const now = performance.now();
      for (const seq of message.seqs) {
        const sentAt = agent.sent.get(seq);
        if (sentAt === undefined) continue;
        agent.sent.delete(seq);
        if (measuring) {
          latencies.push(now - sentAt);
          acked++;
        }
      }
    } else if (message.type === 'policy') {
      const version = (message.bundle as { payload?: { version?: number } })?.payload?.version ?? 0;
      if (!agent.policyAt.has(version)) agent.policyAt.set(version, Date.now());
    }
  });
}
const connectStart = Date.now();
const ready = await connectSimAgents(enrolled.agents, ({ link }) => link.send(SIM_HELLO));
say({ phase: 'connected', agents: ready, ms: Date.now() - connectStart });

// 3. Steady state: each agent sends one activity span (event) and one live `activity` frame every
//    interval, spread evenly over the interval, and a heartbeat every 30 s.
// Each round is what a real agent sends about its session: the span that just closed, through
// the outbox (stored, acknowledged), and the live `activity` frame. The frame's title carries the
// send time, so a dashboard feed subscriber (console-bench.ts) can measure event-to-dashboard.
function sendEvent(agent: SimAgent) {
  agent.seq++;
  const round = activityRound(agent.seq, eventIntervalMs);
  if (agent.link.send(round.events)) agent.sent.set(agent.seq, performance.now());
  if (activityFrames) agent.link.send(round.activity);
}
const timers: NodeJS.Timeout[] = [];
fleet.forEach((agent, i) => {
  const offset = (i / fleet.length) * eventIntervalMs;
  timers.push(
    setTimeout(() => {
      sendEvent(agent);
      timers.push(setInterval(() => sendEvent(agent), eventIntervalMs));
    }, offset),
  );
  timers.push(setInterval(() => agent.link.send({ v: PROTOCOL_VERSION, type: 'heartbeat', sentAt: new Date().toISOString() }), 30_000));
});
// Let the first round settle before measuring.
await new Promise((r) => setTimeout(r, Math.min(eventIntervalMs, 5000)));
measuring = true;
const measureStart = performance.now();
say({ phase: 'measuring', durationMs });

// The orchestrator pushes a policy midway and tells us its version and time on stdin.
let pushed: { version: number; at: number } | null = null;
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk: string) => {
  for (const line of chunk.split('\n').filter(Boolean)) pushed = JSON.parse(line);
});

await new Promise((r) => setTimeout(r, durationMs));
measuring = false;
const elapsedS = (performance.now() - measureStart) / 1000;
timers.forEach((t) => clearInterval(t));

let pushAllMs: number | null = null;
let pushReached = 0;
if (pushed) {
  const { version, at } = pushed as { version: number; at: number };
  const times = fleet.map((a) => a.policyAt.get(version)).filter((t): t is number => t !== undefined);
  pushReached = times.length;
  pushAllMs = times.length === fleet.length ? Math.max(...times) - at : null;
}
latencies.sort((a, b) => a - b);
const stillConnected = fleet.filter((a) => a.link.isReady).length;
fleet.forEach((a) => a.link.stop());
const done = {
  phase: 'done',
  connected: ready,
  stillConnected,
  acked,
  elapsedS,
  p50Ms: percentile(latencies, 50),
  p99Ms: percentile(latencies, 99),
  pushAllMs,
  pushReached,
};
process.stdout.write(`${JSON.stringify(done)}\n`, () => process.exit(0));
