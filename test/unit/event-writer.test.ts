import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { EventWriter } from '../../src/console/event-writer.js';
import type { ConsoleStore } from '../../src/console/store/store.js';
import { storeWithDevice } from '../helpers/console-store.js';
import { tempDirsPerTest } from '../helpers/processes.js';

const tempPath = tempDirsPerTest();
const event = (seq: number) => ({ id: randomUUID(), seq, at: new Date().toISOString(), type: 'diagnostic.test' as const, data: { note: 'x', n: seq } });
const nextTurn = () => new Promise((r) => setImmediate(r));

describe('event writer (group commit)', () => {
  it('keeps at most two batches in flight: frames arriving meanwhile join one next batch, and each frame gets its own result', async () => {
    const { store: real, device } = await storeWithDevice(tempPath('console.db'));
    // The real store, with each batch's write held until the test lets it go.
    const batches: number[] = [];
    const held: (() => void)[] = [];
    let inFlight = 0;
    let mostInFlight = 0;
    const store = Object.assign(Object.create(real) as ConsoleStore, {
      insertEventBatch: async (entries: Parameters<ConsoleStore['insertEventBatch']>[0]) => {
        batches.push(entries.length);
        mostInFlight = Math.max(mostInFlight, ++inFlight);
        await new Promise<void>((release) => held.push(release));
        try {
          return await real.insertEventBatch(entries);
        } finally {
          inFlight--;
        }
      },
    });
    const writer = new EventWriter(store);
    const at = new Date().toISOString();
    const written: Promise<{ stored: { seq: number }[] }>[] = [];
    // One frame a turn of the event loop: without the bound each would be a batch of its own.
    for (let seq = 1; seq <= 6; seq++) {
      written.push(writer.write(device.id, [event(seq)], at));
      await nextTurn();
    }
    expect(batches).toEqual([1, 1]);
    held.splice(0).forEach((release) => release());
    await Promise.all(written.slice(0, 2));
    await nextTurn();
    // Frames 3 to 6 waited for a free slot and went together.
    expect(batches).toEqual([1, 1, 4]);
    held.splice(0).forEach((release) => release());
    const results = await Promise.all(written);
    expect(results.map((r) => r.stored.map((e) => e.seq))).toEqual([[1], [2], [3], [4], [5], [6]]);
    expect(mostInFlight).toBe(2);
    expect(await real.countEvents(device.id)).toBe(6);
    await real.close();
  });
});
