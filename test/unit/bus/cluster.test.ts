import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { EventRouter } from '../../../src/console/agent-link/event-router.js';
import { newAgentLinkStats } from '../../../src/console/agent-link/stats.js';
import { InProcessBroker, type ConsoleBus } from '../../../src/console/bus/bus.js';
import { CommandRelay } from '../../../src/console/cluster/command-relay.js';
import { ClusterPresence } from '../../../src/console/cluster/presence.js';
import type { SignedCommand } from '../../../src/shared/command.js';
import { createLogger } from '../../../src/shared/node/log.js';
import { waitUntil } from '../../helpers/processes.js';

const log = createLogger('cluster-test');

/** One console process's hub, as far as presence and commands see it: the devices it holds. */
class Hub {
  readonly held = new Set<string>();
  readonly sent: SignedCommand[] = [];
  readonly releases: string[] = [];
  isOnline = (id: string) => this.held.has(id);
  heldDevices = () => [...this.held];
  release = (id: string) => void (this.held.delete(id), this.releases.push(id));
  sendCommand = (id: string, command: SignedCommand) => this.held.has(id) && (this.sent.push(command), true);
}

function consoleProcess(bus: ConsoleBus) {
  const hub = new Hub();
  const router = new EventRouter(newAgentLinkStats(), log);
  const relay = new CommandRelay(bus, hub, log);
  const lost: string[][] = [];
  const presence = new ClusterPresence(
    bus,
    hub,
    (id) => relay.release(id),
    (ids) => void lost.push(ids),
    log,
  );
  relay.register(router);
  presence.register(router);
  const connect = async (id: string) => (hub.held.add(id), router.connected(id, new Date().toISOString()));
  return { hub, router, relay, presence, lost, connect };
}

const command = (deviceId: string): SignedCommand => ({
  payload: {
    kind: 'vigil.command',
    id: randomUUID(),
    deviceId,
    action: 'lock',
    issuedBy: 'admin',
    issuedAt: new Date().toISOString(),
    expiresAt: new Date(Date.now() + 60_000).toISOString(),
    nonce: 'n'.repeat(22),
  },
  signature: { alg: 'ed25519', keyId: '0123456789abcdef', value: `${'A'.repeat(86)}==` },
});

describe('console processes sharing presence and commands over the bus', () => {
  it('a device connecting to B is dropped from A (not marked offline), and commands then go through B', async () => {
    const broker = new InProcessBroker();
    const a = consoleProcess(broker.connect('A'));
    const b = consoleProcess(broker.connect('B'));
    const device = randomUUID();
    await a.connect(device);
    await waitUntil(() => b.presence.holderOf(device) === 'A');
    expect(b.presence.isOnline(device)).toBe(true);

    await b.connect(device);
    await waitUntil(() => a.hub.releases.includes(device));
    expect(a.hub.held.has(device)).toBe(false);
    expect(a.presence.holderOf(device)).toBe('B');
    expect(a.presence.isOnline(device)).toBe(true);

    // A no longer answers for the device: a command issued on A is carried by B.
    const sent = command(device);
    expect(await a.relay.send(device, sent)).toBe(true);
    expect(b.hub.sent.map((c) => c.payload.id)).toEqual([sent.payload.id]);
    expect(a.hub.sent).toEqual([]);
  });

  it('a command for a device nobody holds is not delivered; a result is forwarded only for a command carried to that device', async () => {
    const broker = new InProcessBroker();
    const a = consoleProcess(broker.connect('A'));
    const b = consoleProcess(broker.connect('B'));
    const results: string[] = [];
    a.relay.receiveResults(async (_deviceId, result) => void results.push(result.id!));
    expect(await a.relay.send(randomUUID(), command(randomUUID()))).toBe(false);

    const device = randomUUID();
    await b.connect(device);
    await new Promise((r) => setTimeout(r, 10));
    const sent = command(device);
    expect(await a.relay.send(device, sent)).toBe(true);
    const result = { v: 1 as const, type: 'command.result' as const, id: sent.payload.id, outcome: 'done' as const, detail: 'locked', backend: 'i3lock' };
    // Another device cannot answer for it, and B never carried a command with another id.
    expect(b.relay.forwardResult(randomUUID(), result)).toBe(false);
    expect(b.relay.forwardResult(device, { ...result, id: randomUUID() })).toBe(false);
    expect(b.relay.forwardResult(device, result)).toBe(true);
    await waitUntil(() => results.length === 1);
    expect(results).toEqual([sent.payload.id]);
    // Once only.
    expect(b.relay.forwardResult(device, result)).toBe(false);

    // After the device leaves B, nobody answers for it.
    await b.router.disconnected(device, new Date().toISOString());
    b.hub.held.delete(device);
    expect(await a.relay.send(device, command(device))).toBe(false);
  });

  it('a process that starts learns which devices the others hold', async () => {
    const broker = new InProcessBroker();
    const a = consoleProcess(broker.connect('A'));
    const devices = Array.from({ length: 4500 }, () => randomUUID());
    for (const id of devices) await a.connect(id);
    const late = consoleProcess(broker.connect('C'));
    await waitUntil(() => late.presence.heldElsewhere === devices.length);
    expect(devices.every((id) => late.presence.holderOf(id) === 'A')).toBe(true);
  });

  it('the devices of a process that stops are no longer counted online elsewhere', async () => {
    const broker = new InProcessBroker();
    const a = consoleProcess(broker.connect('A'));
    const b = consoleProcess(broker.connect('B'));
    const device = randomUUID();
    await b.connect(device);
    await waitUntil(() => a.presence.isOnline(device));
    b.presence.close();
    await waitUntil(() => a.lost.length === 1);
    expect(a.lost).toEqual([[device]]);
    expect(a.presence.isOnline(device)).toBe(false);
  });
});
