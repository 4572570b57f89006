import { describe, expect, it } from 'vitest';
import { InProcessBroker } from '../../src/console/bus/bus.js';
import { FeedHub } from '../../src/console/feed.js';
import type { DeviceSummary } from '../../src/shared/api.js';
import { waitUntil } from '../helpers/processes.js';

const summary = (id: string) => ({ id, hostname: id }) as unknown as DeviceSummary;

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
});
