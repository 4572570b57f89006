import { createHash } from 'node:crypto';
import { Agent as HttpAgent, get } from 'node:http';
import { createInterface } from 'node:readline';
import { setImmediate as yieldToEvents } from 'node:timers/promises';
import { fetchAnnouncedPolicy } from '../src/agent/policy-fetch.js';
import type { PolicyBundle } from '../src/shared/policy.js';
import { createLogger } from '../src/shared/node/log.js';
import { policyFetchHeader } from '../src/shared/node/policy-fetch-auth.js';
import { policyDigest } from '../src/shared/node/policy-verify.js';
import { bundlePath, deltaPath, POLICY_FETCH_CAPABILITY, type PolicyAvailableMessage } from '../src/shared/policies/delivery.js';
import { PROTOCOL_VERSION } from '../src/shared/protocol.js';
import { SerialQueue } from '../src/shared/serial-queue.js';
import { benchArgs } from './args.js';
import { connectSimAgents, enrollSimAgents, type SimIdentity } from './sim-agents.js';

/**
 * One process of `npm run bench:policy`'s fleet (bench/policy-bench.ts starts several: each agent
 * holds a socket here and one in the console, and a process may hold 20,000 files). Agents
 * enroll and connect like fleet-sim.ts's, announce the `policy-fetch` capability, and answer
 * every `policy.available` as an agent does: fetch the delta (when one is offered from the
 * digest held) or the bundle with a device-signed request, and check the SHA-256 and size of
 * every byte received against the notice. The first `--verifiers` agents run the agent's own
 * fetchAnnouncedPolicy in full (inflate, schema, console signature, rollback, payload digest,
 * delta application). Each agent also sends a live activity frame every 30 s stamped with its
 * send time, which the dashboard subscriber times. Prints JSON lines; on a `report` line on
 * stdin, prints when each agent took each version and how many bytes it received.
 */
const args = benchArgs({ url: { default: '' }, token: { default: '' }, agents: { default: '2500' }, verifiers: { default: '25' }, shard: { default: '0' } });
const log = createLogger('sim', 'error');
let lastProblem: string | null = null;
let retries = 0;
const say = (line: object) => process.stdout.write(`${JSON.stringify(line)}\n`);
// Fetches share a bounded pool of sockets, as the console's file limit must hold them beside every
// WebSocket. A socket that carried a bundle is closed once it has been read, and the next fetch in
// the queue gets a connection of its own, as a real agent's fetch does (one per notice, long after
// the last): the console's keep-alive timer runs 5 s from its last write, a simulator short of
// CPU can take longer than that to read 3.5 MB, and a socket handed on then failed the next fetch
// with "socket hang up" (a few hundred a rollout). Small answers (the first, tiny policy after
// enrolment) keep reusing their sockets: one connection each made those 10,000 fetches so slow
// that thousands were still going when the 100,000-rule push changed every set.
const pool = new HttpAgent({ keepAlive: true, maxSockets: 64 });
const LARGE_BODY_BYTES = 256 * 1024;

interface PolicyAgent extends SimIdentity {
  verifier: boolean;
  held: { version: number | null; digest: string | null; bundle: PolicyBundle | null };
  took: Map<number, { at: number; via: 'delta' | 'full' }>;
  bytes: number;
  failures: number;
  /** The latest notice not handled yet (a newer one replaces it), as the agent's notice handler keeps. */
  waiting: PolicyAvailableMessage | null;
  running: boolean;
}

const enrolled = await enrollSimAgents(args.url, args.token, Number(args.agents), log, `policy-sim-${args.shard}`, 10);
const fleet: PolicyAgent[] = enrolled.agents.map((a, i) => ({
  ...a,
  verifier: i < Number(args.verifiers),
  held: { version: null, digest: null, bundle: null },
  took: new Map(),
  bytes: 0,
  failures: 0,
  waiting: null,
  running: false,
}));
say({ phase: 'enrolled', agents: fleet.length });

/**
 * One fetch, retried (up to three times) only when the connection failed: a kept-alive socket the
 * console closed as it was reused. Bytes that arrived and do not match are not retried.
 */
async function download(agent: PolicyAgent, path: string, size: number, sha256: string): Promise<boolean> {
  for (let attempt = 1; ; attempt++) {
    const result = await downloadOnce(agent, path, size, sha256);
    if (result !== 'connection') return result;
    if (attempt === 3) return false;
    retries++;
  }
}

function inlineMatches(bytes: Buffer, size: number, sha256: string): boolean {
  const ok = bytes.length === size && createHash('sha256').update(bytes).digest('hex') === sha256;
  if (!ok) lastProblem = `inline delta: ${bytes.length} of ${size} bytes, or not the announced SHA-256`;
  return ok;
}

function downloadOnce(agent: PolicyAgent, path: string, size: number, sha256: string): Promise<boolean | 'connection'> {
  return new Promise((resolve) => {
    const req = get(new URL(path, args.url), { agent: pool, headers: { authorization: policyFetchHeader(agent.key.deviceId, path, agent.key) } }, (res) => {
      const hash = createHash('sha256');
      const socket = res.socket;
      let received = 0;
      res.on('data', (chunk: Buffer) => {
        received += chunk.length;
        hash.update(chunk);
      });
      res.on('end', () => {
        // Before the pool hands the socket on (it does so after the handlers of 'end').
        if (received > LARGE_BODY_BYTES) socket.destroy();
        agent.bytes += received;
        const ok = res.statusCode === 200 && received === size && hash.digest('hex') === sha256;
        if (!ok) lastProblem = `${path.slice(0, 40)}: status ${res.statusCode}, ${received} of ${size} bytes`;
        resolve(ok);
      });
      res.on('error', (error) => ((lastProblem = error.message), resolve('connection')));
    });
    req.on('error', (error) => ((lastProblem = error.message), resolve('connection')));
  });
}

/**
 * Agents that verify in full take their turn: a real agent fetches and verifies on its own CPU,
 * but here a hundred share one process, and a fetch started while the others' signature checks
 * hold the event loop runs into the agent's fetch timeout mid-transfer and falls back to the full
 * bundle (the likely reason most verifiers fetched the full bundle after a one-rule change before).
 * Two at a time keeps the CPU busy without starving the transfers.
 */
const VERIFYING_AT_ONCE = 2;
const verifierTurns = Array.from({ length: VERIFYING_AT_ONCE }, () => new SerialQueue());
let nextTurn = 0;

/**
 * What verifying agents hold, one copy per digest. Each agent checks every byte itself (the CPU a
 * real device spends); a real device then holds its one policy, but a hundred 100,000-rule copies
 * in this one process (over 3 GB) left its CPU to the garbage collector. Equal digests are equal
 * content, so holding one copy changes nothing any agent checks.
 */
const heldCopies = new Map<string, PolicyBundle>();

function sharedCopy(digest: string, bundle: PolicyBundle): PolicyBundle {
  const copy = heldCopies.get(digest);
  if (copy) return copy;
  heldCopies.set(digest, bundle);
  const held = new Set(fleet.map((a) => a.held.digest));
  for (const kept of heldCopies.keys()) if (kept !== digest && !held.has(kept)) heldCopies.delete(kept);
  return bundle;
}

async function take(agent: PolicyAgent, notice: PolicyAvailableMessage): Promise<void> {
  if (agent.held.digest === notice.digest) return;
  if (agent.verifier) {
    const outcome = await verifierTurns[nextTurn++ % VERIFYING_AT_ONCE]!.run(async () => {
      // An inline delta is checked with no I/O at all: without a turn of the event loop between
      // two checks, a hundred of them would run back to back and no report, frame or ping would
      // be read until the last.
      await yieldToEvents();
      return fetchAnnouncedPolicy(
        notice,
        agent.held.bundle,
        { trustedKey: enrolled.consoleKey, heldVersion: agent.held.version },
        { consoleUrl: args.url, deviceId: agent.key.deviceId, key: agent.key },
      );
    });
    if (outcome.ok && outcome.problems.length > 0) lastProblem = outcome.problems.map((p) => `${p.via} ${p.problem}: ${p.detail}`).join('; ');
    // The agent's fetch reads through fetch(): its bytes are the announced sizes it accepted.
    // An inline delta's bytes came with the notice, counted there.
    agent.bytes += outcome.ok ? (outcome.via === 'delta' ? (notice.delta!.inline ? 0 : notice.delta!.size) : notice.compressed.size) : 0;
    if (!outcome.ok) {
      lastProblem = outcome.problems.map((p) => `${p.via} ${p.problem}: ${p.detail}`).join('; ');
      return void agent.failures++;
    }
    const digest = policyDigest(outcome.bundle.payload);
    agent.held = { version: notice.version, digest, bundle: sharedCopy(digest, outcome.bundle) };
    agent.took.set(notice.version, { at: Date.now(), via: outcome.via });
  } else {
    let via: 'delta' | 'full' = 'full';
    let ok = false;
    if (notice.delta && notice.delta.fromDigest === agent.held.digest) {
      via = 'delta';
      const { inline } = notice.delta;
      // A delta inside the notice (counted with the notice's bytes) is checked as fetched bytes are.
      ok = inline
        ? inlineMatches(Buffer.from(inline, 'base64'), notice.delta.size, notice.delta.sha256)
        : await download(agent, deltaPath(notice.delta.fromDigest, notice.digest), notice.delta.size, notice.delta.sha256);
    }
    if (!ok) {
      via = 'full';
      ok = await download(agent, bundlePath(notice.digest), notice.compressed.size, notice.compressed.sha256);
    }
    if (!ok) return void agent.failures++;
    agent.held = { version: notice.version, digest: notice.digest, bundle: null };
    agent.took.set(notice.version, { at: Date.now(), via });
  }
  agent.link.send({ v: PROTOCOL_VERSION, type: 'policy.ack', version: notice.version });
}

/**
 * As the agent's notice handler does: one notice at a time, only the latest waiting one, and a
 * failed fetch tried again later (here: 2 s, up to five times) unless a newer notice came meanwhile.
 */
async function drain(agent: PolicyAgent): Promise<void> {
  if (agent.running) return;
  agent.running = true;
  try {
    while (agent.waiting) {
      const notice = agent.waiting;
      agent.waiting = null;
      for (let attempt = 1; attempt <= 5 && !agent.waiting; attempt++) {
        const failuresBefore = agent.failures;
        await take(agent, notice);
        if (agent.failures === failuresBefore) break;
        await new Promise((r) => setTimeout(r, 2000));
      }
    }
  } finally {
    agent.running = false;
  }
}

for (const agent of fleet) {
  agent.link.on('message', (message) => {
    if (message.type !== 'policy.available') return;
    agent.bytes += Buffer.byteLength(JSON.stringify(message));
    agent.waiting = message;
    void drain(agent);
  });
}
const ready = await connectSimAgents(fleet, (agent) =>
  agent.link.send({
    v: PROTOCOL_VERSION,
    type: 'hello',
    agentVersion: 'sim',
    policyVersion: (agent as PolicyAgent).held.version,
    policyDigest: (agent as PolicyAgent).held.digest,
    mode: 'service',
    capabilities: ['events', 'policy', POLICY_FETCH_CAPABILITY],
  }),
);
say({ phase: 'connected', agents: ready });

// Live activity, stamped with the send time, every 30 s per agent, spread over the interval.
const ACTIVITY_MS = 30_000;
fleet.forEach((agent, i) => {
  const send = () => {
    const now = Date.now();
    const window = { app: agent.verifier ? 'bench-verifier' : 'bench', title: `bench ${now}`, url: null, path: null };
    agent.link.send({
      v: PROTOCOL_VERSION,
      type: 'activity',
      now: { collecting: true, mode: 'full', pausedReason: null, window, since: new Date(now).toISOString(), idleSeconds: 0, locked: false },
    });
  };
  setTimeout(() => (send(), setInterval(send, ACTIVITY_MS).unref()), (i / fleet.length) * ACTIVITY_MS).unref();
});

createInterface({ input: process.stdin }).on('line', (line) => {
  const { report, exit } = JSON.parse(line) as { report?: number[]; exit?: boolean };
  // Exiting by itself, a process run with --cpu-prof writes its profile.
  if (exit) process.exit(0);
  if (!report) return;
  say({
    phase: 'report',
    versions: report.map((version) => ({
      version,
      took: fleet.map((a) => a.took.get(version) ?? null),
    })),
    bytes: fleet.map((a) => a.bytes),
    failures: fleet.reduce((n, a) => n + a.failures, 0),
    lastProblem,
    retries,
    verifiers: fleet.filter((a) => a.verifier).length,
    connected: fleet.filter((a) => a.link.isReady).length,
  });
});
