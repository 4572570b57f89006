import { describe, expect, it } from 'vitest';
import { SessionRunner } from '../../src/agent/session/runner.js';
import type { Locker, LogoffBackend, SessionPlatform, WarningDisplay } from '../../src/agent/session/platform.js';
import type { NewAgentEvent } from '../../src/shared/events.js';
import { createLogger } from '../../src/shared/node/log.js';

const locker = (name: string, ok: boolean, available = true): Locker & { calls: number } => {
  const l = {
    name,
    calls: 0,
    available: () => available,
    async lock() {
      l.calls++;
      return { ok, detail: ok ? `${name} locked` : `${name} is broken` };
    },
  };
  return l;
};
const logoff = (name: string, ok: boolean): LogoffBackend => ({ name, available: () => true, logoff: async () => ({ ok, detail: ok ? 'ended' : 'refused' }) });
const shown: string[] = [];
const warning: WarningDisplay = {
  name: 'fake-window',
  available: () => true,
  show: (text) => shown.push(text),
  hide: () => undefined,
  message: async () => ({ ok: true, detail: 'shown' }),
};

function runner(platform: Partial<SessionPlatform>) {
  const events: NewAgentEvent[] = [];
  const r = new SessionRunner({
    platform: { platform: 'test', idle: null, lockers: [], logoff: [], warning, ...platform },
    ownership: 'byod',
    emit: (e) => events.push(e),
    log: createLogger('test'),
    tickMs: 20,
  });
  return { r, events, problems: () => events.filter((e) => e.type === 'session.problem').map((e) => (e.data as { kind: string }).kind) };
}

describe('SessionRunner', () => {
  it('falls back to the next locker when one fails, skipping ones not installed', async () => {
    const broken = locker('broken', false);
    const missing = locker('missing', true, false);
    const good = locker('good', true);
    const { r, events, problems } = runner({ lockers: [missing, broken, good] });
    expect(await r.command('lock')).toEqual({ ok: true, detail: 'good locked', backend: 'good' });
    expect([missing.calls, broken.calls, good.calls]).toEqual([0, 1, 1]);
    expect(events).toContainEqual({ type: 'session.action', data: { action: 'lock', reason: 'command', ok: true, backend: 'good', detail: 'good locked' } });
    expect(problems()).toEqual([]);
  });

  it('a lock while a running locker holds the screen is answered without starting another', async () => {
    let starts = 0;
    const held: Locker = { name: 'held', available: () => true, lock: async () => (starts++, { ok: true, detail: 'running', isLocked: () => true }) };
    const { r } = runner({ lockers: [held] });
    const [a, b] = await Promise.all([r.command('lock'), r.command('lock')]); // at the same moment
    expect(a).toEqual(b);
    expect(await r.command('lock')).toEqual({ ok: true, detail: 'the screen is already locked', backend: 'held' });
    expect(starts).toBe(1);
  });

  it('records an event when every locker fails, or none is installed', async () => {
    const failing = runner({ lockers: [locker('a', false), locker('b', false)] });
    expect((await failing.r.command('lock')).ok).toBe(false);
    expect(failing.problems()).toEqual(['lock-failed']);
    const none = runner({ lockers: [locker('a', true, false)] });
    none.r.start();
    none.r.stop();
    expect(none.events[0]).toEqual({
      type: 'session.backends',
      data: { platform: 'test', ownership: 'byod', idle: null, lockers: [], logoff: [], warning: 'fake-window' },
    });
    expect(none.problems()).toEqual(['no-locker']);
    expect((await none.r.command('lock')).ok).toBe(false);
    expect(none.problems()).toEqual(['no-locker', 'no-locker']);
  });

  it('logoff command: warns first, tries logoff backends in order, reports the result', async () => {
    const { r, events } = runner({ lockers: [locker('l', true)], logoff: [logoff('first', false), logoff('second', true)] });
    r.applyPolicy({ warningSeconds: 5 });
    r.start();
    // The fake platform has no idle source; the countdown runs on the real clock here.
    const done = await r.command('logoff');
    r.stop();
    expect(done).toEqual({ ok: true, detail: 'ended', backend: 'second' });
    expect(shown.some((t) => /logged off in 5 seconds.\nIT staff have asked for it/.test(t))).toBe(true);
    expect(events.filter((e) => e.type === 'session.action').map((e) => (e.data as { action: string }).action)).toEqual(['warn', 'logoff']);
  }, 15_000);

  it('reports a logoff that failed everywhere, and a missing idle source', async () => {
    const { r, problems } = runner({ logoff: [logoff('only', false)] });
    r.applyPolicy({ warningSeconds: 5 });
    r.start();
    const done = await r.command('logoff');
    r.stop();
    expect(done.ok).toBe(false);
    expect(done.detail).toMatch(/every logoff mechanism failed \(only: refused\)/);
    expect(problems()).toEqual(expect.arrayContaining(['no-locker', 'no-idle-source', 'logoff-failed']));
  }, 15_000);

  it('a corrupt session section is reported and the defaults apply', () => {
    const { r, problems } = runner({});
    r.applyPolicy({ lockAfterIdleSeconds: 'never' });
    expect(problems()).toEqual(['policy-invalid']);
    expect(r.core.current.lockAfterIdleSeconds).toBe(300);
  });

  it('logs off at once, with no countdown, when the pupil declined the AUP (and then waits for the next session)', async () => {
    const { r, events } = runner({ logoff: [logoff('first', false), logoff('second', true)] });
    r.applyPolicy({ warningSeconds: 30 });
    const done = await r.logoffNow('aup-declined');
    expect(done).toEqual({ ok: true, detail: 'ended', backend: 'second' });
    const actions = events.filter((e) => e.type === 'session.action').map((e) => e.data);
    expect(actions).toEqual([{ action: 'logoff', reason: 'aup-declined', ok: true, backend: 'second', detail: 'ended' }]);
    expect(r.core.warningActive).toBeNull();
  });

  it('retiring (another user took the seat) and stopping (the agent stops) both end a locker it left running', async () => {
    let released = 0;
    const holding: Locker = {
      name: 'holding',
      available: () => true,
      lock: async () => ({ ok: true, detail: 'pid 1', isLocked: () => true, release: () => void released++ }),
    };
    const a = runner({ lockers: [holding] });
    await a.r.command('lock');
    a.r.retire();
    expect(released).toBe(1);
    const b = runner({ lockers: [holding] });
    await b.r.command('lock');
    b.r.stop();
    expect(released).toBe(2);
    b.r.stop();
    expect(released).toBe(2); // once
  });
});
