import { describe, expect, it } from 'vitest';
import { Outbox } from '../../src/agent/outbox.js';
import { tempDirsPerTest } from '../helpers/processes.js';

const tempPath = tempDirsPerTest();
const newFile = () => tempPath('outbox.db');
const note = (n: number) => ({ type: 'diagnostic.test' as const, data: { note: 'unit', n } });

describe('Outbox (real SQLite file)', () => {
  it('gives events unique ids and increasing sequence numbers', () => {
    const outbox = new Outbox(newFile());
    const events = outbox.append([note(0), note(1), note(2)]);
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(new Set(events.map((e) => e.id)).size).toBe(3);
    outbox.close();
  });

  it('keeps unacknowledged events across a reopen and never reuses a sequence number', () => {
    const file = newFile();
    const first = new Outbox(file);
    first.append([note(0), note(1), note(2)]);
    first.acknowledge([1, 2, 3]);
    first.append([note(3)]);
    first.close();
    const second = new Outbox(file);
    expect(second.pending(10).map((e) => [e.seq, e.data])).toEqual([[4, { note: 'unit', n: 3 }]]);
    expect(second.append([note(4)])[0]!.seq).toBe(5);
    second.close();
  });

  it('deletes only what is acknowledged and pages by sequence', () => {
    const outbox = new Outbox(newFile());
    outbox.append(Array.from({ length: 10 }, (_, n) => note(n)));
    outbox.acknowledge([2, 4]);
    expect(outbox.pending(3).map((e) => e.seq)).toEqual([1, 3, 5]);
    expect(outbox.pending(3, 5).map((e) => e.seq)).toEqual([6, 7, 8]);
    expect(outbox.count()).toBe(8);
    outbox.close();
  });

  it('drops the oldest events rather than growing without bound', () => {
    const outbox = new Outbox(newFile(), 5);
    outbox.append(Array.from({ length: 8 }, (_, n) => note(n)));
    expect(outbox.pending(10).map((e) => e.seq)).toEqual([4, 5, 6, 7, 8]);
    outbox.close();
  });

  it('is shared safely with another writer (the `vigil agent emit` process)', () => {
    const file = newFile();
    const agent = new Outbox(file);
    const other = new Outbox(file);
    other.append([note(0)]);
    agent.append([note(1)]);
    expect(agent.pending(10).map((e) => e.seq)).toEqual([1, 2]);
    agent.close();
    other.close();
  });
});
