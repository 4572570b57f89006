import { connect } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { busServerUnavailable, startNatsServer, type BusServer } from '../../../bench/bus-servers.js';
import { BusMessageTooLarge, InProcessBroker, MAX_BUS_MESSAGE_BYTES, type ConsoleBus } from '../../../src/console/bus/bus.js';
import { openNatsBus } from '../../../src/console/bus/nats-bus.js';
import { createLogger } from '../../../src/shared/node/log.js';
import { waitUntil } from '../../helpers/processes.js';
import { skipReason } from '../../helpers/requirements.js';

const Note = z.strictObject({ n: z.number().int() });
const log = createLogger('bus-test');

/** The contract every ConsoleBus keeps, run against NATS (a real server) and the in-process broker. */
function contract(name: string, open: () => Promise<[ConsoleBus, ConsoleBus]>) {
  describe(name, () => {
    it('delivers a message to other processes, never back to its publisher, and answers requests', async () => {
      const [a, b] = await open();
      const atA: number[] = [];
      const atB: number[] = [];
      a.subscribe('t.note', Note, ({ n }) => void atA.push(n));
      b.subscribe('t.note', Note, ({ n }, from) => void (from === a.processId && atB.push(n)));
      b.subscribe('t.ask', Note, ({ n }) => ({ n: n * 2 }));
      await new Promise((r) => setTimeout(r, 100)); // subscriptions reach the server
      for (let n = 1; n <= 3; n++) a.publish('t.note', { n });
      await waitUntil(() => atB.length === 3);
      expect(atB).toEqual([1, 2, 3]);
      expect(await a.request('t.ask', { n: 21 }, Note, 5000)).toEqual({ n: 42 });
      // Nobody answers on this subject: null (a command then is reported not delivered).
      expect(await a.request('t.nobody', { n: 1 }, Note, 5000)).toBeNull();
      // A's own messages never came back to it.
      b.publish('t.note', { n: 9 });
      await waitUntil(() => atA.length === 1);
      expect(atA).toEqual([9]);
      await a.close();
      await b.close();
    });

    it('refuses to publish a message over the size bound, counts it, and sends nothing', async () => {
      const [a, b] = await open();
      const got: unknown[] = [];
      b.subscribe('t.big', z.object({ text: z.string() }), (m) => void got.push(m));
      await new Promise((r) => setTimeout(r, 100));
      expect(() => a.publish('t.big', { text: 'x'.repeat(MAX_BUS_MESSAGE_BYTES) })).toThrow(BusMessageTooLarge);
      expect(a.stats.oversize).toBe(1);
      a.publish('t.big', { text: 'small' });
      await waitUntil(() => got.length === 1);
      expect(got).toEqual([{ text: 'small' }]);
      await a.close();
      await b.close();
    });
  });
}

const natsMissing = skipReason('NATS bus adapter', busServerUnavailable('nats'));

describe('ConsoleBus', () => {
  let server: BusServer;
  beforeAll(async () => {
    if (!natsMissing) server = await startNatsServer();
  });
  afterAll(async () => server?.stop());

  contract('in-process broker', async () => {
    const broker = new InProcessBroker();
    return [broker.connect(), broker.connect()];
  });

  describe.skipIf(natsMissing)('NATS adapter', () => {
    contract('contract', async () => [await openNatsBus(server.url, log), await openNatsBus(server.url, log)]);

    it('counts and drops malformed and oversized messages, and still takes the valid ones', async () => {
      const bus = await openNatsBus(server.url, log);
      const got: number[] = [];
      bus.subscribe('t.in', Note, ({ n }) => void got.push(n));
      const raw = await connect({ servers: server.url });
      await raw.flush();
      await new Promise((r) => setTimeout(r, 100));
      const send = (text: string) => raw.publish('t.in', new TextEncoder().encode(text));
      send('not json');
      send('[1,2]');
      send(JSON.stringify({ from: 'x', body: { n: 'one' } })); // not what the subject carries
      send(JSON.stringify({ body: { n: 1 } })); // no sender
      send(JSON.stringify({ from: 'x', body: { n: 1, extra: true } }));
      send(JSON.stringify({ from: 'x', body: { n: 1, pad: 'y'.repeat(MAX_BUS_MESSAGE_BYTES) } }));
      send(JSON.stringify({ from: 'x', body: { n: 7 } }));
      await raw.flush();
      await waitUntil(() => got.length === 1);
      expect(got).toEqual([7]);
      await waitUntil(() => bus.stats.malformed + bus.stats.oversize === 6);
      expect(bus.stats).toMatchObject({ malformed: 5, oversize: 1, received: 1 });
      await raw.close();
      await bus.close();
    });

    it('reconnects after the bus server restarts and delivers again', async () => {
      const a = await openNatsBus(server.url, log);
      const b = await openNatsBus(server.url, log);
      const got: number[] = [];
      b.subscribe('t.again', Note, ({ n }) => void got.push(n));
      await new Promise((r) => setTimeout(r, 100));
      a.publish('t.again', { n: 1 });
      await waitUntil(() => got.length === 1);
      await server.restart();
      await waitUntil(
        () => a.stats.reconnects >= 1 && b.stats.reconnects >= 1,
        60_000,
        () => JSON.stringify([a.stats, b.stats]),
      );
      expect(a.stats.disconnects).toBeGreaterThanOrEqual(1);
      // Subscriptions are renewed on reconnect: a message published now arrives.
      await waitUntil(
        () => {
          a.publish('t.again', { n: 2 });
          return got.includes(2);
        },
        60_000,
        () => JSON.stringify(got),
      );
      expect(got[0]).toBe(1);
      await a.close();
      await b.close();
    }, 120_000);
  });
});
