import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { EventRouter, PRIVATE_EVENT_TYPES, type EventConsumer, type FrameContext } from '../../src/console/agent-link/event-router.js';
import { eventLogConsumer } from '../../src/console/agent-link/event-log.js';
import { newAgentLinkStats } from '../../src/console/agent-link/stats.js';
import { ConcernService } from '../../src/console/concerns.js';
import { EventWriter } from '../../src/console/event-writer.js';
import type { AgentEvent } from '../../src/shared/events.js';
import { createLogger } from '../../src/shared/node/log.js';
import { PROTOCOL_VERSION, type ConsoleMessageInput } from '../../src/shared/protocol.js';
import { storeWithDevice } from '../helpers/console-store.js';
import { tempDirsPerTest } from '../helpers/processes.js';

const tempPath = tempDirsPerTest();
const log = createLogger('test', 'error');
const diag = (seq: number) => ({ id: randomUUID(), seq, at: new Date().toISOString(), type: 'diagnostic.test' as const, data: { note: 'x', n: seq } });
const concern = (seq: number) => ({
  id: randomUUID(),
  seq,
  at: new Date().toISOString(),
  type: 'concern.reported' as const,
  data: { category: 'about-me' as const, text: 'a pupil wrote this', wantsContact: false, user: 'pupil' },
});
const frame = (events: unknown[]) => ({ v: PROTOCOL_VERSION, type: 'events' as const, events: events as never });

/** A connection's side: what the router sent back, in order with what consumers did. */
function connection(trace: string[]) {
  const replies: ConsoleMessageInput[] = [];
  const ctx: FrameContext = { deviceId: 'dev-1', receivedAt: new Date().toISOString(), reply: (m) => (replies.push(m), trace.push(`reply:${m.type}`), true) };
  return { ctx, replies };
}

function recorder(
  name: string,
  phase: EventConsumer['phase'],
  takes: EventConsumer['takes'],
  trace: string[],
  got: Map<string, AgentEvent[]>,
  fresh?: (e: AgentEvent[]) => AgentEvent[],
): EventConsumer {
  return {
    name,
    phase,
    takes,
    async handle(_d, events) {
      trace.push(name);
      got.set(name, [...(got.get(name) ?? []), ...events]);
      return fresh?.(events);
    },
  };
}

describe('event router', () => {
  it('runs before-ack consumers, then acks every seq, then hands only new events to after-ack consumers', async () => {
    const trace: string[] = [];
    const got = new Map<string, AgentEvent[]>();
    const seen = new Set<string>();
    const router = new EventRouter(newAgentLinkStats(), log)
      .consume(recorder('live', 'after-ack', 'every-public', trace, got))
      .consume(recorder('durable', 'before-ack', 'every-public', trace, got, (events) => events.filter((e) => !seen.has(e.id) && seen.add(e.id))));
    const { ctx, replies } = connection(trace);
    const first = diag(1);
    await router.dispatch(ctx, frame([first]));
    await router.dispatch(ctx, frame([first, diag(2)]));
    await new Promise((r) => setImmediate(r));
    expect(trace).toEqual(['durable', 'reply:events.ack', 'live', 'durable', 'reply:events.ack', 'live']);
    expect(replies.map((r) => (r.type === 'events.ack' ? r.seqs : null))).toEqual([[1], [1, 2]]);
    // The resent event was acked again but not shown twice.
    expect(got.get('live')!.map((e) => e.seq)).toEqual([1, 2]);
  });

  it('does not ack when a before-ack consumer fails, and tells no after-ack consumer', async () => {
    const trace: string[] = [];
    const got = new Map<string, AgentEvent[]>();
    const router = new EventRouter(newAgentLinkStats(), log)
      .consume(recorder('live', 'after-ack', 'every-public', trace, got))
      .consume({ name: 'disk', phase: 'before-ack', takes: 'every-public', handle: async () => Promise.reject(new Error('disk full')) });
    const { ctx, replies } = connection(trace);
    await expect(router.dispatch(ctx, frame([diag(1)]))).rejects.toThrow('disk full');
    await new Promise((r) => setImmediate(r));
    expect(replies).toEqual([]);
    expect(got.size).toBe(0);
  });

  it('never hands a private event type to a consumer of every event, even with nobody registered for it', async () => {
    expect(PRIVATE_EVENT_TYPES.has('concern.reported')).toBe(true);
    const stats = newAgentLinkStats();
    const got = new Map<string, AgentEvent[]>();
    const router = new EventRouter(stats, log).consume(recorder('all', 'before-ack', 'every-public', [], got, (e) => e));
    const { ctx } = connection([]);
    await router.dispatch(ctx, frame([concern(1), diag(2)]));
    expect(got.get('all')!.map((e) => e.type)).toEqual(['diagnostic.test']);
    expect(stats.unroutedEvents).toBe(1);
  });

  it('lets one consumer, before the ack, take a private type', () => {
    const router = new EventRouter(newAgentLinkStats(), log);
    expect(() => router.consume(recorder('feed', 'after-ack', ['concern.reported'], [], new Map()))).toThrow(/before the ack/);
    router.consume(recorder('queue', 'before-ack', ['concern.reported'], [], new Map()));
    expect(() => router.consume(recorder('events table', 'before-ack', ['concern.reported', 'diagnostic.test'], [], new Map()))).toThrow(
      /private and queue already takes it/,
    );
  });

  it('stores a concern in the safeguarding queue and never in the events table (real store)', async () => {
    const { store, device } = await storeWithDevice(tempPath('console.db'));
    const stats = newAgentLinkStats();
    const concerns = new ConcernService(store);
    const router = new EventRouter(stats, log)
      .consume({
        name: 'safeguarding queue',
        phase: 'before-ack',
        takes: ['concern.reported'],
        handle: async (d, events, at) => void (await concerns.record(d, events as never, at)),
      })
      .consume(eventLogConsumer(new EventWriter(store), stats, log));
    const trace: string[] = [];
    const { ctx } = connection(trace);
    const reported = concern(1);
    await router.dispatch({ ...ctx, deviceId: device.id }, frame([reported, diag(2)]));
    expect(trace).toEqual(['reply:events.ack']);
    expect((await store.listConcerns({ limit: 10 })).map((c) => c.id)).toEqual([reported.id]);
    expect((await store.listEvents({ limit: 10 })).map((e) => e.event.type)).toEqual(['diagnostic.test']);
    expect(await store.listEvents({ type: 'concern.reported', limit: 10 })).toEqual([]);
    expect(stats.eventsStored).toBe(1);
    await store.close();
  });
});
