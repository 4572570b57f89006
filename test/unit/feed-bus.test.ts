import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { InProcessBroker } from '../../src/console/bus/bus.js';
import { deviceRecord } from '../../bench/device-record.js';
import { toDeviceSummary } from '../../src/console/devices.js';
import { FeedHub } from '../../src/console/feed.js';
import type { DeviceSummary } from '../../src/shared/api.js';
import { waitUntil } from '../helpers/processes.js';

const summary = (id: string) => ({ id, hostname: id }) as unknown as DeviceSummary;
/** A summary the receiving process's schema takes. */
const validSummary = (hostname: string): DeviceSummary => toDeviceSummary(deviceRecord(undefined, hostname));

describe('the feed and the bus', () => {
  it('a lone console serialises nothing for a bus nobody else is on; with a second process, every update reaches it', async () => {
    const broker = new InProcessBroker();
    const lone = broker.connect('p1');
    const feed = new FeedHub(5, undefined, lone);
    expect(lone.alone).toBe(true);
    for (let i = 0; i < 50; i++) feed.publishDevice(summary(`d${i}`));
    await new Promise((r) => setTimeout(r, 30));
    expect(lone.stats.published).toBe(0);

    const other = broker.connect('p2');
    expect(lone.alone).toBe(false);
    const received: string[] = [];
    other.subscribe('vigil.feed', { safeParse: (v: unknown) => ({ success: true, data: v }) } as never, (batch: { messages: { device: { id: string } }[] }) => {
      received.push(...batch.messages.map((m) => m.device.id));
    });
    for (let i = 0; i < 50; i++) feed.publishDevice(summary(`d${i}`));
    await waitUntil(() => received.length === 50, 2000);
    expect(lone.stats.published).toBeGreaterThan(0);
    feed.close();
    await other.close();
    expect(lone.alone).toBe(true);
  });

  it("a process takes other processes' updates from the bus only while a dashboard is connected to it", async () => {
    const broker = new InProcessBroker();
    const a = broker.connect('a');
    const b = broker.connect('b');
    const feedA = new FeedHub(5, undefined, a);
    const feedB = new FeedHub(5, undefined, b);
    const principal = { username: 'tech', role: 'technician' } as never;
    const server = createServer((_req, res) => void feedB.subscribe(res, principal));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      // Nobody watches on B: A's updates are not even checked there.
      for (let i = 0; i < 20; i++) feedA.publishDevice(validSummary(`d${i}`));
      await waitUntil(() => a.stats.published > 0, 2000);
      await new Promise((r) => setTimeout(r, 30));
      expect(b.stats.received).toBe(0);

      // A dashboard on B sees A's devices live.
      const controller = new AbortController();
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, { signal: controller.signal });
      const reader = res.body!.getReader();
      let text = '';
      feedA.publishDevice(validSummary('seen-on-b'));
      while (!text.includes('seen-on-b')) text += new TextDecoder().decode((await reader.read()).value);
      expect(b.stats).toMatchObject({ malformed: 0 });
      expect(b.stats.received).toBeGreaterThan(0);

      // The dashboard leaves: B stops taking A's updates.
      controller.abort();
      await waitUntil(() => feedB.subscriberCount === 0, 2000);
      const received = b.stats.received;
      for (let i = 0; i < 20; i++) feedA.publishDevice(validSummary(`e${i}`));
      await new Promise((r) => setTimeout(r, 50));
      expect(b.stats.received).toBe(received);
    } finally {
      feedA.close();
      feedB.close();
      await new Promise((r) => server.close(r));
      await a.close();
      await b.close();
    }
  });
});
