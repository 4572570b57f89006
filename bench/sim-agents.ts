import { createPrivateKey, randomUUID, type KeyObject } from 'node:crypto';
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
): Promise<{ agents: SimIdentity[]; consoleKey: string }> {
  const wsUrl = new URL(AGENT_WS_PATH, url);
  wsUrl.protocol = 'ws:';
  let consoleKey = '';
  const agents: SimIdentity[] = [];
  for (let i = 0; i < count; i += batchSize) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(batchSize, count - i) }, async (_, j) => {
        const pair = generateEd25519KeyPair();
        const key = { deviceId: randomUUID(), privateKey: createPrivateKey(pair.privateKeyPem), publicKey: pair.publicKey };
        const request = { consoleUrl: url, token, key, hostname: `${hostnamePrefix}-${i + j}`, platform: 'linux' as const, machineIdHint: null };
        const device = await enrollPatiently(request);
        consoleKey = device.consolePublicKey;
        return key;
      }),
    );
    for (const key of batch) {
      const link = new AgentLink({
        url: wsUrl.toString(),
        deviceId: key.deviceId,
        privateKey: key.privateKey,
        publicKey: key.publicKey,
        consolePublicKey: consoleKey,
        log,
        backoffMaxMs: 5000,
      });
      agents.push({ key, link });
    }
  }
  return { agents, consoleKey };
}

/** Starts every link, a hundred at a time, and waits (up to two minutes) until all are authenticated. */
export async function connectSimAgents(agents: readonly SimIdentity[], onReady: (agent: SimIdentity) => void): Promise<number> {
  let ready = 0;
  for (const agent of agents)
    agent.link.on('ready', () => {
      ready++;
      onReady(agent);
    });
  const started = Date.now();
  for (let i = 0; i < agents.length; i++) {
    agents[i]!.link.start();
    if (i % 100 === 99) await new Promise((r) => setTimeout(r, 20));
  }
  while (ready < agents.length && Date.now() - started < 120_000) await new Promise((r) => setTimeout(r, 100));
  return ready;
}
