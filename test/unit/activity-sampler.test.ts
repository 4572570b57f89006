import { describe, expect, it } from 'vitest';
import { ActivitySampler } from '../../src/agent/activity/sampler.js';
import type { RawWindow, WindowDetail, WindowSource } from '../../src/agent/activity/window-source.js';
import type { DisplayServer } from '../../src/agent/activity/display-server.js';
import type { SessionClock } from '../../src/agent/session/clock.js';
import type { SessionObservation } from '../../src/agent/session/core.js';
import type { ActivityNow } from '../../src/shared/activity.js';
import { AgentEventSchema, type NewAgentEvent } from '../../src/shared/events.js';
import { createLogger } from '../../src/shared/node/log.js';
import type { Ownership } from '../../src/shared/session.js';

class FakeClock implements SessionClock {
  wall = Date.parse('2026-11-23T09:00:00Z'); // a Monday
  mono = 1_000_000;
  wallNow = () => this.wall;
  monoNow = () => this.mono;
  localMs = (w: number) => w;
  advance(ms: number) {
    this.wall += ms;
    this.mono += ms;
  }
}

/** A window source the test controls; it records being started and stopped. */
class FakeSource implements WindowSource {
  readonly name = 'fake';
  problem: string | null = null;
  running = false;
  reads = 0;
  constructor(
    public window: RawWindow | null,
    public detail: WindowDetail,
  ) {}
  start() {
    this.running = true;
  }
  stop() {
    this.running = false;
  }
  async sample() {
    this.reads++;
    return this.window;
  }
}

function harness(opts: { ownership?: Ownership; displayServer?: DisplayServer; policy?: unknown } = {}) {
  const clock = new FakeClock();
  const sources: FakeSource[] = [];
  let window: RawWindow | null = { app: 'XTerm', title: 'pupil@lab: ~', url: null, path: '/usr/bin/xterm' };
  let observed: SessionObservation | null = { idleMs: 0, locked: false };
  const events: NewAgentEvent[] = [];
  const nows: ActivityNow[] = [];
  const sampler = new ActivitySampler({
    ownership: opts.ownership ?? 'school',
    policy: opts.policy,
    displayServer: opts.displayServer ?? 'x11',
    createSource: (detail) => {
      const s = new FakeSource(window, detail);
      sources.push(s);
      return s;
    },
    session: () => observed,
    network: { status: () => true },
    emit: (e) => events.push(e),
    sendNow: (n) => nows.push(n),
    log: createLogger('test', 'error'),
    clock,
  });
  const tick = async (seconds = 1) => {
    for (let i = 0; i < seconds; i++) {
      clock.advance(1000);
      await sampler.tick();
    }
  };
  const spans = () => events.flatMap((e) => (e.type === 'activity.spans' ? e.data.spans : []));
  return {
    clock,
    sampler,
    /** Applies a policy section; the sampler samples at once (at the current fake time). */
    async apply(section: unknown) {
      sampler.applyPolicy(section);
      await new Promise((r) => setImmediate(r));
    },
    sources,
    events,
    nows,
    tick,
    spans,
    setWindow(w: RawWindow | null) {
      window = w;
      sources.forEach((s) => (s.window = w));
    },
    setSession(o: SessionObservation | null) {
      observed = o;
    },
  };
}

describe('activity sampler: what the grid is told (issue 20)', () => {
  it('starts under the policy it is given: the first state sent is never "off (policy)" when the policy is on', async () => {
    const h = harness({ policy: { mode: 'full' } });
    await h.tick(1);
    expect(h.nows.map((n) => n.pausedReason)).not.toContain('policy-off');
    expect(h.nows[0]).toMatchObject({ collecting: true, window: { app: 'XTerm' } });
    const off = harness({ policy: { mode: 'off' } });
    await off.tick(1);
    expect(off.nows[0]).toMatchObject({ collecting: false, pausedReason: 'policy-off' });
  });

  it('a connection made before the first sample ends resends nothing: the placeholder state never reaches the grid', async () => {
    const h = harness({ policy: { mode: 'full' } });
    h.sampler.resend(); // the link came up while the window source was still starting
    expect(h.nows).toEqual([]);
    await h.tick(1);
    h.sampler.resend();
    expect(h.nows.map((n) => n.pausedReason)).not.toContain('policy-off');
    expect(h.nows.at(-1)).toMatchObject({ collecting: true, window: { app: 'XTerm' } });
  });

  it('a source that failed while sampling is an error, not "no window in front"', async () => {
    const h = harness({ policy: { mode: 'full' } });
    await h.tick(1);
    h.setWindow(null);
    h.sources[0]!.problem = 'xprop -root -spy ended (exit 1)';
    h.clock.advance(1000);
    await h.sampler.tick();
    expect(h.sampler.now).toMatchObject({ collecting: false, pausedReason: 'error', window: null });
    expect(h.nows.some((n) => n.collecting && n.window === null)).toBe(false);
  });

  it("idle past the policy's threshold is sent as idle (the grid says Idle), not as an empty window", async () => {
    const h = harness({ policy: { mode: 'full', idleAfterSeconds: 60 } });
    await h.tick(1);
    h.setSession({ idleMs: 61_000, locked: false });
    await h.tick(2);
    expect(h.sampler.now).toMatchObject({ collecting: true, window: null, idle: true, idleSeconds: 61 });
  });
});

describe('activity sampler', () => {
  it('collects nothing without an activity section: no source is even created', async () => {
    const h = harness();
    await h.apply(undefined);
    await h.tick(5);
    expect(h.sources).toEqual([]);
    expect(h.events).toEqual([]);
    expect(h.sampler.now).toMatchObject({ collecting: false, pausedReason: 'policy-off', window: null });
  });

  it('merges samples into spans and sends them in batches through the outbox', async () => {
    const h = harness();
    await h.apply({ mode: 'full', batchSeconds: 10 }); // first sample at t0
    await h.tick(4);
    h.setWindow({ app: 'XCalc', title: 'Calculator', url: null, path: null });
    await h.tick(3);
    expect(h.events).toEqual([]); // batched, not yet due
    await h.tick(4);
    expect(h.spans()).toEqual([
      {
        start: new Date(h.clock.wall - 11_000).toISOString(),
        durationMs: 5000,
        kind: 'window',
        window: { app: 'XTerm', title: 'pupil@lab: ~', url: null, path: '/usr/bin/xterm' },
      },
    ]);
    h.sampler.stop(); // the open span is closed and queued
    expect(h.spans()[1]).toMatchObject({ durationMs: 6000, kind: 'window', window: { app: 'XCalc' } });
    expect(h.sources[0]!.running).toBe(false);
    for (const e of h.events)
      expect(AgentEventSchema.safeParse({ ...e, seq: 1, id: '6f9619ff-8b86-4d11-b42d-00c04fc964ff', at: new Date().toISOString() }).success).toBe(true);
  });

  it('app-only never lets a title, URL or path out, live or in spans', async () => {
    const h = harness();
    h.setWindow({ app: 'Firefox', title: 'Private stuff', url: 'https://x.example', path: '/usr/bin/firefox' });
    await h.apply({ mode: 'app-only', batchSeconds: 1 });
    await h.tick(3);
    h.setWindow({ app: 'XTerm', title: 'secret', url: null, path: '/usr/bin/xterm' });
    await h.tick(2);
    h.sampler.stop();
    expect(h.spans().map((s) => s.window)).toEqual([
      { app: 'Firefox', title: null, url: null, path: null },
      { app: 'XTerm', title: null, url: null, path: null },
    ]);
    expect(JSON.stringify([h.events, h.nows])).not.toMatch(/Private|secret|https|usr\/bin/);
  });

  it('idle and locked come from the session runner, as their own spans', async () => {
    const h = harness();
    await h.apply({ mode: 'full', idleAfterSeconds: 10, batchSeconds: 1 });
    await h.tick(2);
    h.setSession({ idleMs: 12_000, locked: false }); // noticed at t3; the last input was 12 s before
    await h.tick(3);
    expect(h.sampler.now).toMatchObject({ collecting: true, window: null, idleSeconds: 12, locked: false });
    h.setSession({ idleMs: 15_000, locked: true });
    await h.tick(2);
    expect(h.sampler.now.locked).toBe(true);
    h.sampler.stop();
    expect(h.spans().map((s) => [s.kind, s.durationMs])).toEqual([
      ['idle', 6000], // t0..t6: the window span (t0..t3) was all inside the idle time, so it is gone

      ['locked', 1000], // t6..t7, closed when stopped
    ]);
  });

  it('the live state is sent on change, at most once a second, idle seconds alone are no change', async () => {
    const h = harness();
    await h.apply({ mode: 'full' });
    await h.tick(1);
    const first = h.nows.length;
    await h.tick(5);
    expect(h.nows.length).toBe(first);
    h.setSession({ idleMs: 3000, locked: false });
    await h.tick(3);
    expect(h.nows.length).toBe(first);
    h.setWindow({ app: 'XCalc', title: 'Calculator', url: null, path: null });
    h.clock.advance(1000);
    await h.sampler.tick();
    await h.sampler.tick(); // same instant: nothing new to send, and never twice in a second
    expect(h.nows.length).toBe(first + 1);
    expect(h.nows.at(-1)).toMatchObject({ collecting: true, mode: 'full', window: { app: 'XCalc' } });
    h.sampler.resend();
    expect(h.nows.length).toBe(first + 2);
  });

  it('BYOD outside school hours: the source is stopped and nothing is read or sent; it restarts inside them', async () => {
    const h = harness({ ownership: 'byod' });
    // School hours 09:00-09:10 on Mondays; the fake clock starts at 09:00 on a Monday.
    await h.apply({
      mode: 'full',
      batchSeconds: 1,
      byod: { schoolHours: [{ days: ['mon'], start: '09:00', end: '09:10' }], schoolNetwork: { cidrs: ['127.0.0.0/8'] } },
    });
    await h.tick(3);
    expect(h.sources[0]!.running).toBe(true);
    const reads = h.sources[0]!.reads;
    h.clock.advance(10 * 60_000);
    await h.tick(5);
    expect(h.sources[0]!.running).toBe(false);
    expect(h.sources[0]!.reads).toBe(reads);
    expect(h.sources).toHaveLength(1);
    expect(h.sampler.now).toEqual({
      collecting: false,
      mode: 'full',
      pausedReason: 'outside-school-hours',
      window: null,
      since: null,
      idleSeconds: null,
      locked: null,
    });
    expect(h.nows.at(-1)!.pausedReason).toBe('outside-school-hours');
    // The span before the pause was closed at the pause, not stretched over the evening.
    expect(h.spans().reduce((ms, s) => ms + s.durationMs, 0)).toBeLessThan(10 * 60_000);
  });

  it('Wayland is reported, not silent, and no source runs', async () => {
    const h = harness({ displayServer: 'wayland' });
    await h.apply({ mode: 'full' });
    await h.tick(2);
    expect(h.sources).toEqual([]);
    expect(h.nows.at(-1)).toMatchObject({ collecting: false, pausedReason: 'wayland' });
  });

  it('a failing source is reported as an error and retried later, not every second', async () => {
    const h = harness();
    await h.apply({ mode: 'full' });
    await h.tick(1);
    h.sources[0]!.problem = 'xprop is not installed (x11-utils)';
    await h.tick(5);
    expect(h.sampler.now.pausedReason).toBe('error');
    expect(h.sources).toHaveLength(1);
    await h.tick(30);
    expect(h.sources).toHaveLength(2);
    expect(h.sampler.now.collecting).toBe(true);
  });

  it('switching the mode ends the spans recorded under the old one', async () => {
    const h = harness();
    await h.apply({ mode: 'full', batchSeconds: 3600 });
    await h.tick(3);
    await h.apply({ mode: 'app-only', batchSeconds: 3600 });
    expect(h.spans()).toEqual([expect.objectContaining({ window: expect.objectContaining({ title: 'pupil@lab: ~' }) })]);
    await h.tick(2);
    await h.apply({ mode: 'off' });
    await h.tick(1);
    expect(h.spans()[1]!.window).toEqual({ app: 'XTerm', title: null, url: null, path: null });
    // The source that could read titles was replaced by one that cannot.
    expect(h.sources.map((s) => s.detail)).toEqual(['full', 'app']);
    expect(h.sources.every((s) => !s.running)).toBe(true);
  });

  it('an unreadable section collects nothing', async () => {
    const h = harness();
    await h.apply({ mode: 'everything' });
    await h.tick(2);
    expect(h.sources).toEqual([]);
    expect(h.sampler.now.pausedReason).toBe('policy-off');
  });
});
