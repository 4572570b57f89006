import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { EventPump } from '../../src/agent/components/event-pump.js';
import { Outbox } from '../../src/agent/outbox.js';
import { FrameBudgets } from '../../src/console/agent-link/frame-budget.js';
import { agentPace, FRAME_BUDGETS } from '../../src/shared/frame-budgets.js';
import { TokenBucket } from '../../src/shared/token-bucket.js';
import type { Logger } from '../../src/shared/node/log.js';
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

describe('Outbox drop accounting: nothing leaves unsent without being counted', () => {
  it('counts events dropped at the cap and reports them once, in one urgent event apart from the backlog', () => {
    const outbox = new Outbox(newFile(), 5);
    outbox.append(Array.from({ length: 8 }, (_, n) => note(n)));
    outbox.append([note(8), note(9)]);
    expect(outbox.health()).toMatchObject({ dropped: 5, pending: 5 });
    const report = outbox.dropReport()!;
    expect(report).toMatchObject({ type: 'outbox.dropped', data: { dropped: 5, byReason: { full: 5, unreadable: 0 }, total: 5 } });
    expect(Date.parse(report.data.firstAt as string)).toBeLessThanOrEqual(Date.parse(report.data.lastAt as string));
    // Until acknowledged, the same report is handed out again (it is durable), and the backlog does not hold it.
    expect(outbox.dropReport()!.id).toBe(report.id);
    expect(outbox.pending(100).map((e) => e.type)).toEqual(Array(5).fill('diagnostic.test'));
    // The cap never drops the report itself.
    outbox.append([note(10)]);
    expect(outbox.dropReport()!.id).toBe(report.id);
    outbox.acknowledge([report.seq]);
    const next = outbox.dropReport()!;
    expect(next.data).toMatchObject({ dropped: 2, byReason: { full: 2, unreadable: 0 }, total: 7 });
    outbox.acknowledge([next.seq]);
    expect(outbox.dropReport()).toBeNull();
    expect(outbox.health().dropped).toBe(7);
    outbox.close();
  });

  it('counts an unreadable row it deletes, and keeps counts and an unsent report across a reopen', () => {
    const file = newFile();
    const outbox = new Outbox(file);
    outbox.append([note(0), note(1)]);
    outbox.close();
    const db = new Database(file);
    db.prepare("UPDATE outbox SET body = '{not json' WHERE seq = 1").run();
    db.close();
    const reopened = new Outbox(file);
    expect(reopened.pending(10).map((e) => e.seq)).toEqual([2]);
    const report = reopened.dropReport()!;
    expect(report.data).toMatchObject({ dropped: 1, byReason: { full: 0, unreadable: 1 }, total: 1 });
    reopened.close();
    const again = new Outbox(file);
    expect(again.dropReport()!.id).toBe(report.id);
    expect(again.health()).toMatchObject({ dropped: 1, pending: 2 });
    again.close();
  });

  it('the pump sends the drop report in a frame of its own before any batch of the backlog, and logs the drop', () => {
    const outbox = new Outbox(newFile(), 300);
    const frames: { events: { type: string; seq: number }[] }[] = [];
    const link = { canSend: false, send: (m: unknown) => (frames.push(m as (typeof frames)[number]), true) };
    const lines: { msg: string; fields: unknown }[] = [];
    const pump = new EventPump(outbox, link, recordingLogger(lines));
    outbox.append(Array.from({ length: 400 }, (_, n) => note(n))); // 100 over the cap, while the console is away
    pump.noticeDrops();
    expect(lines).toEqual([{ msg: expect.stringMatching(/dropped events/), fields: expect.objectContaining({ dropped: 100, droppedTotal: 100 }) }]);
    link.canSend = true;
    pump.restart();
    expect(frames[0]!.events.map((e) => e.type)).toEqual(['outbox.dropped']);
    expect(frames.slice(1).flatMap((f) => f.events.map((e) => e.type))).toEqual(Array(300).fill('diagnostic.test'));
    // Acknowledged like any event; no second report for the same drops.
    pump.acknowledge(frames.flatMap((f) => f.events.map((e) => e.seq)));
    expect(outbox.count()).toBe(0);
    pump.pump();
    expect(frames.slice(1).some((f) => f.events.some((e) => e.type === 'outbox.dropped'))).toBe(false);
    pump.stop();
  });
});

describe('the pump against the console frame budget', () => {
  /** Ten seconds of a backlog against a console that writes and acks at once: only budgets limit. */
  function drain(pace: (clock: () => number) => TokenBucket): { sent: number; dropped: number } {
    let now = 0;
    const clock = () => now;
    const outbox = new Outbox(newFile(), 100_000);
    outbox.append(Array.from({ length: 40_000 }, (_, n) => note(n)));
    const console = new FrameBudgets(FRAME_BUDGETS, clock);
    let sent = 0;
    let dropped = 0;
    const acks: number[][] = [];
    const link = {
      canSend: true,
      send: (m: unknown) => {
        sent++;
        if (console.take('device', 'events')) dropped++;
        else acks.push((m as { events: { seq: number }[] }).events.map((e) => e.seq));
        return true;
      },
    };
    const pump = new EventPump(outbox, link, recordingLogger([]), 250, pace(clock));
    for (now = 0; now < 10_000; now += 5) {
      pump.pump();
      for (const seqs of acks.splice(0)) pump.acknowledge(seqs);
    }
    pump.stop();
    return { sent, dropped };
  }

  it('drains a backlog at the pace the console accepts: no frame dropped, and near the budget rate', () => {
    const { burst, refillMs } = agentPace('events');
    const paced = drain((clock) => new TokenBucket(burst, refillMs, clock));
    expect(paced.dropped).toBe(0);
    expect(paced.sent).toBeGreaterThanOrEqual(burst + Math.floor(10_000 / refillMs) - 1);
    // Sending as fast as acks come back outruns the console's budget.
    const unpaced = drain((clock) => new TokenBucket(1e9, 1, clock));
    expect(unpaced.dropped).toBeGreaterThan(0);
  });
});

function recordingLogger(lines: { msg: string; fields: unknown }[]): Logger {
  const record = (msg: string, fields?: unknown) => void lines.push({ msg, fields });
  const log = { debug: () => undefined, info: () => undefined, warn: record, error: record, child: () => log } as unknown as Logger;
  return log;
}
