import { describe, expect, it } from 'vitest';
import { LOCK_RETRY_MS, SessionCore, STALL_MS, JUMP_TOLERANCE_MS, type SessionAction } from '../../src/agent/session/core.js';
import { FakeClock, harness } from '../helpers/session-harness.js';

/**
 * Session control at its edges: each case was a mutation no test noticed (issue 19,
 * docs/mutation.md) — a disabled limit still acting, a warning shorter than the policy's, no
 * re-lock after an unlock, a stall not taken for a jump.
 */
const HOUR = 3600_000;

/** The core stepped by hand: the test says exactly what the runner observed. */
function manual(session: unknown) {
  const clock = new FakeClock();
  const core = new SessionCore(clock, 'school');
  core.setPolicy(session);
  const step = (idleMs: number | null, locked = false, advanceMs = 1000): SessionAction[] => {
    clock.advance(advanceMs);
    return core.step({ idleMs, locked });
  };
  return { clock, core, step };
}

describe('limits of 0 are off', () => {
  it('never locks with lockAfterIdleSeconds 0, however long the idle', () => {
    const h = harness({ lockAfterIdleSeconds: 0, logoffAfterIdleSeconds: 0, logoffAfterLockedSeconds: 0 });
    h.tick(3 * 3600);
    expect(h.log).toEqual([]);
  });

  it('never warns or logs off for idle with logoffAfterIdleSeconds 0, nor for being locked with logoffAfterLockedSeconds 0', () => {
    const m = manual({ lockAfterIdleSeconds: 60, logoffAfterIdleSeconds: 0, logoffAfterLockedSeconds: 0, warningSeconds: 5 });
    const actions: SessionAction[] = [];
    for (let i = 1; i <= 3600; i++) actions.push(...m.step(i * 1000, i > 61));
    expect(actions).toEqual([{ kind: 'lock', reason: 'idle' }]);
  });
});

describe('warnings are never shorter than the policy says', () => {
  it('an idle reading far past the limit at once (a new idle source) still gets the full warning', () => {
    const m = manual({ lockAfterIdleSeconds: 0, logoffAfterIdleSeconds: 600, warningSeconds: 30 });
    expect(m.step(10 * HOUR)).toEqual([{ kind: 'warn', reason: 'idle', secondsLeft: 30, canPostpone: false }]);
    for (let i = 1; i < 30; i++) expect(m.step(10 * HOUR + i * 1000)).toEqual([{ kind: 'warn', reason: 'idle', secondsLeft: 30 - i, canPostpone: false }]);
    expect(m.step(10 * HOUR + 30_000)).toEqual([{ kind: 'logoff', reason: 'idle' }]);
  });

  it('a locked-too-long limit that arrives while the session has long been locked still gets the full warning', () => {
    const m = manual({ lockAfterIdleSeconds: 0, logoffAfterLockedSeconds: 0, warningSeconds: 20 });
    for (let i = 0; i < 3600; i++) expect(m.step(null, true)).toEqual([]);
    m.core.setPolicy({ lockAfterIdleSeconds: 0, logoffAfterLockedSeconds: 600, warningSeconds: 20 });
    expect(m.step(null, true)).toEqual([{ kind: 'warn', reason: 'locked-too-long', secondsLeft: 20, canPostpone: false }]);
    for (let i = 1; i < 20; i++) expect(m.step(null, true)[0]).toMatchObject({ kind: 'warn', secondsLeft: 20 - i });
    expect(m.step(null, true)).toEqual([{ kind: 'logoff', reason: 'locked-too-long' }]);
  });

  it('starts the idle warning exactly the warning time before the limit', () => {
    const m = manual({ lockAfterIdleSeconds: 0, logoffAfterIdleSeconds: 100, warningSeconds: 10 });
    expect(m.step(89_999)).toEqual([]);
    expect(m.step(90_000)).toEqual([{ kind: 'warn', reason: 'idle', secondsLeft: 10, canPostpone: false }]);
  });

  it('starts the locked-too-long warning exactly the warning time before the limit', () => {
    const m = manual({ lockAfterIdleSeconds: 0, logoffAfterLockedSeconds: 100, warningSeconds: 10 });
    expect(m.step(null, true)).toEqual([]); // locked from here
    for (let i = 1; i < 90; i++) expect(m.step(null, true), String(i)).toEqual([]);
    expect(m.step(null, true)).toEqual([{ kind: 'warn', reason: 'locked-too-long', secondsLeft: 10, canPostpone: false }]);
  });

  it('locks exactly at the idle limit', () => {
    const m = manual({ lockAfterIdleSeconds: 30, logoffAfterLockedSeconds: 0 });
    expect(m.step(29_999)).toEqual([]);
    expect(m.step(30_000)).toEqual([{ kind: 'lock', reason: 'idle' }]);
  });
});

describe('locking again', () => {
  it('locks again after the pupil unlocks and leaves the laptop idle once more', () => {
    const h = harness({ lockAfterIdleSeconds: 10, logoffAfterLockedSeconds: 0 });
    h.tick(10);
    expect(h.kinds('lock')).toHaveLength(1);
    h.tick(5);
    h.unlock();
    h.tick(10);
    expect(h.kinds('lock').map((e) => e.t)).toEqual([10, 25]);
  });

  it('asks again after a lock that worked but was undone at once, without waiting for a retry', () => {
    const m = manual({ lockAfterIdleSeconds: 10, logoffAfterLockedSeconds: 0 });
    expect(m.step(10_000)).toEqual([{ kind: 'lock', reason: 'idle' }]);
    m.core.lockResult(true);
    expect(m.step(11_000)).toEqual([{ kind: 'lock', reason: 'idle' }]);
  });

  it('waits for the retry time after a failed lock, then tries again', () => {
    const m = manual({ lockAfterIdleSeconds: 10, logoffAfterLockedSeconds: 0 });
    expect(m.step(10_000)).toEqual([{ kind: 'lock', reason: 'idle' }]);
    m.core.lockResult(false);
    let idle = 10_000;
    for (let t = 1000; t < LOCK_RETRY_MS; t += 1000) expect(m.step((idle += 1000))).toEqual([]);
    expect(m.step((idle += 1000))).toEqual([{ kind: 'lock', reason: 'idle' }]);
  });

  it('does not lock while a logoff countdown is showing', () => {
    const m = manual({ lockAfterIdleSeconds: 0, logoffAfterIdleSeconds: 0, logoffAfterLockedSeconds: 0, warningSeconds: 30 });
    m.core.setPolicy({ lockAfterIdleSeconds: 20, warningSeconds: 30, logoffAfterLockedSeconds: 0 });
    m.core.requestLogoff();
    const actions = m.step(25_000);
    expect(actions).toEqual([{ kind: 'warn', reason: 'command', secondsLeft: 29, canPostpone: false }]);
  });
});

describe('clock jumps and stalls', () => {
  it('takes a gap over fifteen seconds between steps for a stall and restarts a countdown in full', () => {
    const m = manual({ lockAfterIdleSeconds: 0, logoffAfterIdleSeconds: 100, warningSeconds: 30 });
    expect(m.step(70_000)[0]).toMatchObject({ kind: 'warn', secondsLeft: 30 });
    expect(m.step(80_000, false, 10_000)[0]).toMatchObject({ kind: 'warn', secondsLeft: 20 });
    // Exactly the stall time: still an ordinary step.
    expect(m.step(80_000 + STALL_MS, false, STALL_MS)).toEqual([{ kind: 'warn', reason: 'idle', secondsLeft: 5, canPostpone: false }]);
    // Longer (the process was stopped): the pupil could not see the countdown, so it starts again.
    const after = m.step(100_000 + STALL_MS, false, STALL_MS + 1);
    expect(after[0]).toEqual({ kind: 'clock-jump', detail: 'local clock moved 15 s while 15 s passed on the monotonic clock' });
    expect(after[1]).toEqual({ kind: 'warn', reason: 'idle', secondsLeft: 30, canPostpone: false });
  });

  it('tolerates five seconds of drift between the clocks, not more', () => {
    const m = manual({ lockAfterIdleSeconds: 0, logoffAfterLockedSeconds: 0 });
    m.clock.wall += JUMP_TOLERANCE_MS;
    expect(m.step(0)).toEqual([]);
    m.clock.wall -= JUMP_TOLERANCE_MS + 1;
    expect(m.step(0)).toEqual([{ kind: 'clock-jump', detail: 'local clock moved -4 s while 1 s passed on the monotonic clock' }]);
  });
});

describe('after a logoff', () => {
  it('starts a new session at input within two seconds, not at an older idle time or without an idle source', () => {
    const m = manual({ lockAfterIdleSeconds: 0, logoffAfterIdleSeconds: 20, warningSeconds: 5 });
    m.core.endedNow();
    expect(m.step(null)).toEqual([]);
    expect(m.step(2_000)).toEqual([]);
    expect(m.step(60_000)).toEqual([]); // no new warning: nobody is there
    expect(m.step(1_999)).toEqual([]);
    // The session is live again: idle counts from here.
    expect(m.step(15_000)).toEqual([{ kind: 'warn', reason: 'idle', secondsLeft: 5, canPostpone: false }]);
  });

  it('still carries out a console logoff after a session ended', () => {
    const m = manual({ lockAfterIdleSeconds: 0, logoffAfterLockedSeconds: 0, warningSeconds: 5 });
    m.core.endedNow();
    m.core.requestLogoff();
    for (let i = 4; i >= 1; i--) expect(m.step(60_000)).toEqual([{ kind: 'warn', reason: 'command', secondsLeft: i, canPostpone: false }]);
    expect(m.step(60_000)).toEqual([{ kind: 'logoff', reason: 'command' }]);
  });

  it('ends a countdown at once when the session was logged off outside it', () => {
    const m = manual({ lockAfterIdleSeconds: 0, logoffAfterLockedSeconds: 0, warningSeconds: 30 });
    m.core.requestLogoff();
    expect(m.core.warningActive).toBe('command');
    m.core.endedNow();
    expect(m.core.warningActive).toBeNull();
    expect(m.step(60_000)).toEqual([]);
  });
});

describe('timetabled logoff and other warnings', () => {
  it('a timetabled logoff replaces an idle warning but never a console command', () => {
    const session = {
      lockAfterIdleSeconds: 0,
      logoffAfterIdleSeconds: 100,
      logoffAfterLockedSeconds: 0,
      warningSeconds: 60,
      scheduledLogoff: { school: [{ time: '09:02' }] },
      postpone: { allowed: true },
    };
    const idle = manual(session);
    for (let i = 1; i < 59; i++) idle.step(i * 1000);
    expect(idle.step(59_000)).toEqual([{ kind: 'warn', reason: 'idle', secondsLeft: 41, canPostpone: false }]);
    expect(idle.step(60_000)).toEqual([{ kind: 'warn', reason: 'schedule', secondsLeft: 60, canPostpone: true }]);

    const command = manual(session);
    for (let i = 1; i < 50; i++) command.step(0);
    command.core.requestLogoff();
    const actions = [];
    for (let i = 0; i < 20; i++) actions.push(...command.step(0));
    expect(actions.every((a) => a.kind === 'warn' && a.reason === 'command' && !a.canPostpone)).toBe(true);
    expect(command.core.postpone()).toEqual([]);
  });

  it('postpones by the policy’s seconds and counts the times left', () => {
    const m = manual({
      lockAfterIdleSeconds: 0,
      logoffAfterLockedSeconds: 0,
      warningSeconds: 60,
      scheduledLogoff: { school: [{ time: '09:02' }] },
      postpone: { allowed: true, maxTimes: 3, seconds: 300 },
    });
    expect(m.core.postpone()).toEqual([]); // nothing to postpone yet
    let warn: SessionAction[] = [];
    for (let i = 0; i < 61; i++) warn = m.step(0);
    expect(warn).toEqual([{ kind: 'warn', reason: 'schedule', secondsLeft: 59, canPostpone: true }]);
    expect(m.core.postpone()).toEqual([{ kind: 'postponed', reason: 'schedule', seconds: 300, timesLeft: 2 }]);
    expect(m.step(0)).toEqual([{ kind: 'warn', reason: 'schedule', secondsLeft: 358, canPostpone: true }]);
  });

  it('falls back to the defaults when the section is removed', () => {
    const m = manual({ lockAfterIdleSeconds: 0, logoffAfterLockedSeconds: 0 });
    expect(m.core.setPolicy(undefined)).toEqual([]);
    expect(m.core.current.lockAfterIdleSeconds).toBe(300);
    expect(m.step(300_000)).toEqual([{ kind: 'lock', reason: 'idle' }]);
  });
});

describe('state carried between steps', () => {
  it('takes a readable section without complaint', () => {
    const m = manual({ lockAfterIdleSeconds: 0, logoffAfterLockedSeconds: 0 });
    expect(m.core.setPolicy({ lockAfterIdleSeconds: 60 })).toEqual([]);
    expect(m.core.current.lockAfterIdleSeconds).toBe(60);
  });

  it('counts locked-too-long from the latest lock, not from an earlier one', () => {
    const m = manual({ lockAfterIdleSeconds: 0, logoffAfterLockedSeconds: 100, warningSeconds: 10 });
    for (let i = 0; i < 50; i++) expect(m.step(null, true)).toEqual([]);
    expect(m.step(0, false)).toEqual([]); // unlocked
    for (let i = 0; i < 90; i++) expect(m.step(null, true), String(i)).toEqual([]);
    expect(m.step(null, true)).toEqual([{ kind: 'warn', reason: 'locked-too-long', secondsLeft: 10, canPostpone: false }]);
  });

  it('never starts an idle warning without an idle reading, even when the limit is shorter than the warning', () => {
    const m = manual({ lockAfterIdleSeconds: 0, logoffAfterIdleSeconds: 10, warningSeconds: 60 });
    for (let i = 0; i < 30; i++) expect(m.step(null)).toEqual([]);
  });

  it('says which warning it cancels', () => {
    const m = manual({ lockAfterIdleSeconds: 0, logoffAfterIdleSeconds: 30, warningSeconds: 10 });
    expect(m.step(20_000)[0]).toMatchObject({ kind: 'warn', reason: 'idle' });
    expect(m.step(0)).toEqual([{ kind: 'cancel-warning', reason: 'idle' }]);
  });

  it('keeps a postponed timetabled warning when another timetabled time falls due', () => {
    const m = manual({
      lockAfterIdleSeconds: 0,
      logoffAfterLockedSeconds: 0,
      warningSeconds: 60,
      scheduledLogoff: { school: [{ time: '09:02' }, { time: '09:04' }] },
      postpone: { allowed: true, maxTimes: 1, seconds: 600 },
    });
    for (let i = 0; i < 61; i++) m.step(0);
    expect(m.core.postpone()).toMatchObject([{ kind: 'postponed', timesLeft: 0 }]);
    let last: SessionAction[] = [];
    for (let i = 0; i < 130; i++) last = m.step(0); // 09:03:11: the 09:04 warning would have started at 09:03
    expect(last).toEqual([{ kind: 'warn', reason: 'schedule', secondsLeft: 600 + 59 - 130, canPostpone: false }]);
  });

  it('locks for idle again in a new session after an idle logoff', () => {
    const m = manual({ lockAfterIdleSeconds: 0, logoffAfterIdleSeconds: 20, warningSeconds: 5 });
    m.core.setPolicy({ lockAfterIdleSeconds: 10, logoffAfterIdleSeconds: 20, warningSeconds: 5, logoffAfterLockedSeconds: 0 });
    expect(m.step(10_000)).toEqual([{ kind: 'lock', reason: 'idle' }]); // asked, never confirmed
    let idle = 10_000;
    let actions: SessionAction[] = [];
    while (!actions.some((a) => a.kind === 'logoff')) actions = m.step((idle += 1000));
    expect(m.step(0)).toEqual([]); // a new session starts at input
    expect(m.step(10_000)).toEqual([{ kind: 'lock', reason: 'idle' }]);
  });

  it('does not add an idle lock to a console lock it is carrying out, and locks for idle again after a session ended', () => {
    const m = manual({ lockAfterIdleSeconds: 10, logoffAfterLockedSeconds: 0 });
    expect(m.core.requestLock()).toEqual([{ kind: 'lock', reason: 'command' }]);
    expect(m.step(30_000)).toEqual([]);
    m.core.endedNow();
    expect(m.step(0)).toEqual([]);
    expect(m.step(10_000)).toEqual([{ kind: 'lock', reason: 'idle' }]);
  });
});
