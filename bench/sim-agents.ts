import { createPrivateKey, randomUUID, type KeyObject } from 'node:crypto';
import pg from 'pg';
import { enroll } from '../src/agent/enroll.js';
import { AgentLink } from '../src/agent/link.js';
import { generateEd25519KeyPair } from '../src/shared/node/crypto.js';
import type { Logger } from '../src/shared/node/log.js';
import { AGENT_WS_PATH } from '../src/shared/protocol.js';

/**
 * Simulated agents for the fleet benchmarks: each with its own key, enrolled with the console
 * (a signed HTTP request each, 50 at a time) and an authenticated WebSocket through the agent's
 * real AgentLink (not yet started).
 */
export interface SimIdentity {
  key: { deviceId: string; privateKey: KeyObject; publicKey: string };
  link: AgentLink;
}

/** A busy console may drop or time out an enrollment; an agent tries again later, so the simulator does (five times, waiting longer each time). */
async function enrollPatiently(request: Parameters<typeof enroll>[0]): ReturnType<typeof enroll> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await enroll(request);
    } catch (error) {
      if (attempt === 5) throw error;
      await new Promise((r) => setTimeout(r, attempt * 2000));
    }
  }
}

export async function enrollSimAgents(
  url: string,
  token: string,
  count: number,
  log: Logger,
  hostnamePrefix = 'sim',
  batchSize = 50,
  backoffMaxMs?: number,
): Promise<{ agents: SimIdentity[]; consoleKey: string }> {
  let consoleKey = '';
  const keys: SimKey[] = [];
  for (let i = 0; i < count; i += batchSize) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(batchSize, count - i) }, async (_, j) => {
        const key = newSimKey();
        const request = { consoleUrl: url, token, key, hostname: `${hostnamePrefix}-${i + j}`, platform: 'linux' as const, machineIdHint: null };
        const device = await enrollPatiently(request);
        consoleKey = device.consolePublicKey;
        return key;
      }),
    );
    keys.push(...batch);
  }
  return { agents: keys.map((key) => ({ key, link: simLink(url, key, consoleKey, log, backoffMaxMs) })), consoleKey };
}

type SimKey = SimIdentity['key'];

function newSimKey(): SimKey {
  const pair = generateEd25519KeyPair();
  return { deviceId: randomUUID(), privateKey: createPrivateKey(pair.privateKeyPem), publicKey: pair.publicKey };
}

/**
 * The agent's real link to the console at `url` (through a balancer), not yet started. Its
 * reconnect backoff tops out at `backoffMaxMs`: 5 s unless a bench asks for the agent's own (60 s).
 */
function simLink(url: string, key: SimKey, consoleKey: string, log: Logger, backoffMaxMs = 5000): AgentLink {
  const wsUrl = new URL(AGENT_WS_PATH, url);
  wsUrl.protocol = 'ws:';
  return new AgentLink({
    url: wsUrl.toString(),
    deviceId: key.deviceId,
    privateKey: key.privateKey,
    publicKey: key.publicKey,
    consolePublicKey: consoleKey,
    log,
    backoffMaxMs,
  });
}

/**
 * Devices written straight into a shared PostgreSQL database, as enrollment would write them
 * (bench:cluster's large fleets: tens of thousands of signed enrollments through HTTP take longer
 * than the run they set up, and enrollment is not what that bench measures). Each link goes to
 * `urls[i % urls.length]`.
 */
export async function insertSimDevices(
  database: string,
  urls: readonly string[],
  consoleKey: string,
  count: number,
  log: Logger,
  hostnamePrefix: string,
  backoffMaxMs?: number,
): Promise<SimIdentity[]> {
  const db = new pg.Client({ connectionString: database });
  await db.connect();
  try {
    const token = (await db.query<{ id: string }>('SELECT id FROM enroll_tokens ORDER BY created_at LIMIT 1')).rows[0];
    if (!token) throw new Error('the database holds no enrollment token');
    const enrolledAt = new Date().toISOString();
    const agents: SimIdentity[] = [];
    for (let i = 0; i < count; i += 1000) {
      const keys = Array.from({ length: Math.min(1000, count - i) }, newSimKey);
      const values = keys.map((_, j) => `($${j * 3 + 1}, $${j * 3 + 2}, $${j * 3 + 3}, 'linux', $${keys.length * 3 + 1}, $${keys.length * 3 + 2})`);
      const params = keys.flatMap((key, j) => [key.deviceId, key.publicKey, `${hostnamePrefix}-${i + j}`]);
      await db.query(`INSERT INTO devices (id, public_key, hostname, platform, enrolled_at, enrolled_with) VALUES ${values.join(', ')}`, [
        ...params,
        enrolledAt,
        token.id,
      ]);
      keys.forEach((key, j) => agents.push({ key, link: simLink(urls[(i + j) % urls.length]!, key, consoleKey, log, backoffMaxMs) }));
    }
    return agents;
  } finally {
    await db.end();
  }
}

/**
 * Starts every link — a hundred every 20 ms, or `perSecond` a second if given (a fleet's agents
 * start over minutes, not all in one instant) — and waits (two minutes, or 30 ms an agent, beyond
 * the ramp, if longer) until all are authenticated.
 */
export async function connectSimAgents(agents: readonly SimIdentity[], onReady: (agent: SimIdentity) => void, perSecond?: number): Promise<number> {
  let ready = 0;
  for (const agent of agents)
    agent.link.on('ready', () => {
      ready++;
      onReady(agent);
    });
  const step = perSecond ? Math.max(1, Math.round(perSecond / 50)) : 100;
  for (let i = 0; i < agents.length; i++) {
    agents[i]!.link.start();
    if (i % step === step - 1) await new Promise((r) => setTimeout(r, 20));
  }
  const rampedAt = Date.now();
  while (ready < agents.length && Date.now() - rampedAt < Math.max(120_000, agents.length * 30)) await new Promise((r) => setTimeout(r, 100));
  return ready;
}
