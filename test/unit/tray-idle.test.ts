import { describe, expect, it } from 'vitest';
import type { IdleSource, Locker } from '../../src/agent/session/platform.js';
import { SessionRunner } from '../../src/agent/session/runner.js';
import { measuredIdle, TRAY_IDLE_FRESH_MS, TrayIdleReports } from '../../src/agent/session/tray-idle.js';
import type { NewAgentEvent } from '../../src/shared/events.js';
import { createLogger } from '../../src/shared/node/log.js';
import { waitUntil } from '../helpers/processes.js';

/** Which idle source session control reads: the service's own reader; a tray report may only add idle time. */
const PUPIL = 1001;

function fakeClock() {
  let mono = 50_000;
  return { monoNow: () => mono, advance: (ms: number) => void (mono += ms) };
}

const platformIdle = (ms: number | null): IdleSource & { reads: number } => {
  const source = { name: 'xprintidle', reads: 0, idleMs: async () => (source.reads++, ms) };
  return source;
};

describe('tray idle reports', () => {
  it('keep the latest reading per user, fresh for 15 s on the monotonic clock', () => {
    const clock = fakeClock();
    const reports = new TrayIdleReports(clock.monoNow);
    expect(reports.fresh(PUPIL)).toBeNull();
    reports.record(PUPIL, { idleSeconds: 12, state: 'active' });
    reports.record(PUPIL, { idleSeconds: 40, state: 'locked' });
    clock.advance(TRAY_IDLE_FRESH_MS - 1);
    expect(reports.fresh(PUPIL)).toEqual({ idleSeconds: 40, state: 'locked', ageMs: TRAY_IDLE_FRESH_MS - 1 });
    expect(reports.fresh(PUPIL + 1)).toBeNull();
    clock.advance(1);
    expect(reports.fresh(PUPIL)).toBeNull();
  });

  it('session control measures idle itself: a fresh tray report may only make it more idle, never less (issue 15, point 1)', async () => {
    const clock = fakeClock();
    const reports = new TrayIdleReports(clock.monoNow);
    const xprintidle = platformIdle(70_000);
    const source = measuredIdle(xprintidle, reports, () => PUPIL);
    expect(source.name).toBe('xprintidle + tray report (may only add)');
    expect(await source.idleMs()).toBe(70_000); // no report yet
    // A pupil's script saying "idle 0" changes nothing: the measurement stands.
    reports.record(PUPIL, { idleSeconds: 0, state: 'active' });
    expect(await source.idleMs()).toBe(70_000);
    // A report of more idle time than measured is taken (the tray may see what the X server does not).
    reports.record(PUPIL, { idleSeconds: 95, state: 'idle' });
    clock.advance(5_000);
    expect(await source.idleMs()).toBe(95_000);
    clock.advance(10_000); // the tray went quiet
    expect(await source.idleMs()).toBe(70_000);
    // Another user's reading is not this session's idle time.
    reports.record(PUPIL + 1, { idleSeconds: 999, state: 'idle' });
    expect(await source.idleMs()).toBe(70_000);
    // A reader that fails does not hand the decision to the claim.
    const broken = measuredIdle(platformIdle(null), reports, () => PUPIL);
    reports.record(PUPIL, { idleSeconds: 0, state: 'active' });
    expect(await broken.idleMs()).toBeNull();

    const trayOnly = measuredIdle(null, reports, () => PUPIL);
    expect(trayOnly.name).toBe('tray report only (no OS idle reader)');
    expect(await trayOnly.idleMs()).toBe(0);
    clock.advance(TRAY_IDLE_FRESH_MS);
    expect(await trayOnly.idleMs()).toBeNull();
    reports.record(PUPIL, { idleSeconds: 3, state: 'active' });
    expect(await trayOnly.idleMs()).toBe(3_000);
    expect(await measuredIdle(null, reports, () => undefined).idleMs()).toBeNull();
  });

  it('lets session control idle-lock a platform that has no idle reader (Windows) from the tray alone', async () => {
    const clock = fakeClock();
    const reports = new TrayIdleReports(clock.monoNow);
    let locks = 0;
    const locker: Locker = { name: 'fake-locker', available: () => true, lock: async () => (locks++, { ok: true, detail: 'locked', isLocked: () => true }) };
    const events: NewAgentEvent[] = [];
    const runner = new SessionRunner({
      platform: { platform: 'win32', idle: measuredIdle(null, reports, () => PUPIL), lockers: [locker], logoff: [], warning: null },
      ownership: 'school',
      emit: (e) => events.push(e),
      log: createLogger('test', 'error'),
      tickMs: 10,
    });
    runner.applyPolicy({ lockAfterIdleSeconds: 60 });
    reports.record(PUPIL, { idleSeconds: 30, state: 'active' });
    runner.start();
    try {
      await waitUntil(() => runner.observed?.idleMs === 30_000);
      expect(locks).toBe(0);
      reports.record(PUPIL, { idleSeconds: 61, state: 'idle' });
      await waitUntil(() => locks === 1);
    } finally {
      runner.stop();
    }
    expect(events).toContainEqual({ type: 'session.action', data: { action: 'lock', reason: 'idle', ok: true, backend: 'fake-locker', detail: 'locked' } });
    expect(events).toContainEqual({
      type: 'session.backends',
      data: expect.objectContaining({ idle: 'tray report only (no OS idle reader)' }),
    });
  });
});
