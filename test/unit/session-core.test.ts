import { describe, expect, it } from 'vitest';
import { SessionCore } from '../../src/agent/session/core.js';
import { SessionPolicySchema } from '../../src/shared/session.js';
import { PolicyDocumentSchema } from '../../src/shared/policy.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from '../helpers/processes.js';
import { FakeClock, harness } from '../helpers/session-harness.js';

describe('session policy schema', () => {
  it('has defaults and bounds', () => {
    const p = SessionPolicySchema.parse({});
    expect(p).toMatchObject({ lockAfterIdleSeconds: 300, logoffAfterIdleSeconds: 0, logoffAfterLockedSeconds: 1800, warningSeconds: 60 });
    expect(p.postpone.allowed).toBe(false);
    expect(SessionPolicySchema.safeParse({ lockAfterIdleSeconds: 3 }).success).toBe(false);
    expect(SessionPolicySchema.safeParse({ warningSeconds: 0 }).success).toBe(false);
    expect(SessionPolicySchema.safeParse({ lockAfterIdleSeconds: 60, logoffAfterIdleSeconds: 30 }).success).toBe(false);
    expect(SessionPolicySchema.safeParse({ scheduledLogoff: { school: [{ time: '25:00' }] } }).success).toBe(false);
    expect(SessionPolicySchema.safeParse({ extra: 1 }).success).toBe(false);
    expect(SessionPolicySchema.parse({ scheduledLogoff: { school: [{ time: '15:30' }] } }).scheduledLogoff.school[0]!.days).toEqual([
      'mon',
      'tue',
      'wed',
      'thu',
      'fri',
    ]);
    expect(PolicyDocumentSchema.safeParse({ format: 'vigil-policy/1', name: 'x', session: { lockAfterIdleSeconds: 'soon' } }).success).toBe(false);
  });

  it('the example policies are valid', () => {
    for (const file of ['secondary-sessions.json', 'lab-sessions.json']) {
      const doc = PolicyDocumentSchema.parse(JSON.parse(readFileSync(join(REPO, 'policies', file), 'utf8')));
      expect(doc.session?.warningSeconds).toBeGreaterThanOrEqual(60);
    }
  });
});

describe('SessionCore', () => {
  it('locks after the idle time, and input resets the timer', () => {
    const h = harness({ lockAfterIdleSeconds: 10, logoffAfterLockedSeconds: 0 });
    h.tick(8);
    h.input();
    h.tick(8);
    expect(h.kinds('lock')).toEqual([]);
    h.tick(2);
    expect(h.kinds('lock')).toEqual([{ t: 18, action: { kind: 'lock', reason: 'idle' } }]);
    h.tick(30);
    expect(h.kinds('lock')).toHaveLength(1); // not re-locked while locked
  });

  it('warns with a countdown and logs off after being locked too long', () => {
    const h = harness({ lockAfterIdleSeconds: 5, logoffAfterLockedSeconds: 20, warningSeconds: 8 });
    h.tick(40);
    const lockAt = h.kinds('lock')[0]!.t;
    const warns = h.kinds('warn');
    expect(warns[0]!.t).toBe(lockAt + 20 - 8 + 1); // locked at the step after the lock action
    expect(warns.map((w) => (w.action as { secondsLeft: number }).secondsLeft)).toEqual([8, 7, 6, 5, 4, 3, 2, 1]);
    expect(h.kinds('logoff')).toEqual([{ t: warns[0]!.t + 8, action: { kind: 'logoff', reason: 'locked-too-long' } }]);
  });

  it('cancels the locked-too-long warning when the pupil unlocks', () => {
    const h = harness({ lockAfterIdleSeconds: 5, logoffAfterLockedSeconds: 20, warningSeconds: 8 });
    h.tick(20);
    expect(h.kinds('warn').length).toBeGreaterThan(0);
    h.unlock();
    h.tick(1);
    expect(h.kinds('cancel-warning')).toEqual([{ t: 21, action: { kind: 'cancel-warning', reason: 'locked-too-long' } }]);
    h.tick(3);
    expect(h.kinds('logoff')).toEqual([]);
  });

  it('logs off after the idle time with a full warning, cancelled by input', () => {
    const h = harness({ lockAfterIdleSeconds: 0, logoffAfterIdleSeconds: 30, warningSeconds: 10 });
    h.tick(22);
    expect(h.kinds('warn').map((w) => w.t)).toEqual([20, 21, 22]);
    h.input();
    h.tick(1);
    expect(h.kinds('cancel-warning')).toHaveLength(1);
    h.tick(40);
    expect(h.kinds('logoff')).toEqual([{ t: 52, action: { kind: 'logoff', reason: 'idle' } }]);
  });

  it('does nothing after a logoff until the display is used again', () => {
    const h = harness({ lockAfterIdleSeconds: 0, logoffAfterIdleSeconds: 10, warningSeconds: 5 });
    h.tick(60);
    expect(h.kinds('logoff')).toHaveLength(1);
    h.input();
    h.tick(12);
    expect(h.kinds('logoff')).toHaveLength(2);
  });

  it('logs off at the timetabled time after the warning, on the device owner type only', () => {
    const session = {
      lockAfterIdleSeconds: 0,
      logoffAfterLockedSeconds: 0,
      warningSeconds: 30,
      scheduledLogoff: { school: [{ time: '09:02' }], byod: [{ time: '09:05' }] },
    };
    const school = harness(session, 'school');
    school.tick(60);
    school.input();
    school.tick(70);
    expect(school.kinds('warn')[0]!.t).toBe(90);
    expect(school.kinds('logoff')).toEqual([{ t: 120, action: { kind: 'logoff', reason: 'schedule' } }]);
    const byod = harness(session, 'byod');
    byod.tick(400);
    expect(byod.kinds('logoff')).toEqual([{ t: 300, action: { kind: 'logoff', reason: 'schedule' } }]);
  });

  it('respects weekdays', () => {
    const h = harness({
      lockAfterIdleSeconds: 0,
      logoffAfterLockedSeconds: 0,
      warningSeconds: 10,
      scheduledLogoff: { school: [{ time: '09:01', days: ['sat', 'sun'] }] },
    });
    h.tick(120);
    expect(h.kinds('warn')).toEqual([]);
  });

  it('a laptop that slept through the timetabled time warns in full before logging off', () => {
    const h = harness({ lockAfterIdleSeconds: 0, logoffAfterLockedSeconds: 0, warningSeconds: 20, scheduledLogoff: { school: [{ time: '12:00' }] } });
    h.tick(5);
    // Asleep from 09:00 to 13:00: the wall clock jumps, the monotonic clock does not move.
    h.clock.wall += 4 * 3600_000;
    h.tick(1);
    expect(h.kinds('clock-jump')).toHaveLength(1);
    expect(h.kinds('logoff')).toEqual([]);
    expect(h.kinds('warn')[0]!.action).toMatchObject({ reason: 'schedule', secondsLeft: 20 });
    h.tick(19);
    expect(h.kinds('logoff')).toEqual([]);
    h.tick(1);
    expect(h.kinds('logoff')).toHaveLength(1);
  });

  it('a countdown interrupted by sleep restarts in full after resume', () => {
    const h = harness({ lockAfterIdleSeconds: 0, logoffAfterIdleSeconds: 30, warningSeconds: 10 });
    h.tick(25); // 5 s left
    h.clock.wall += 3600_000;
    h.clock.mono += 60_000; // a platform whose monotonic clock counts sleep: a stall
    h.tick(1);
    expect(h.kinds('clock-jump')).toHaveLength(1);
    expect(h.kinds('logoff')).toEqual([]);
    expect((h.log.at(-1)!.action as { secondsLeft: number }).secondsLeft).toBe(10);
  });

  it('a time zone change that skips the timetabled time warns in full; a backward change does not repeat it', () => {
    const h = harness({ lockAfterIdleSeconds: 0, logoffAfterLockedSeconds: 0, warningSeconds: 15, scheduledLogoff: { school: [{ time: '10:00' }] } });
    h.tick(5);
    h.clock.offsetMs = 2 * 3600_000; // local time jumps from 09:00 to 11:00
    h.tick(1);
    expect(h.kinds('clock-jump')).toHaveLength(1);
    expect(h.kinds('warn')[0]!.action).toMatchObject({ secondsLeft: 15 });
    h.tick(20);
    expect(h.kinds('logoff')).toHaveLength(1);
    h.input();
    h.tick(1);
    h.clock.offsetMs = 0; // back to 09:00: 10:00 comes round again, but was already handled
    h.tick(3700);
    expect(h.kinds('logoff')).toHaveLength(1);
  });

  it('a wall clock set backwards is a jump but logs nobody off', () => {
    const h = harness({ lockAfterIdleSeconds: 0, logoffAfterLockedSeconds: 0, warningSeconds: 15, scheduledLogoff: { school: [{ time: '08:30' }] } });
    h.tick(2);
    h.clock.wall -= 3600_000;
    h.tick(2);
    expect(h.kinds('clock-jump')).toHaveLength(1);
    h.tick(1900);
    expect(h.kinds('warn')).toEqual([]);
  });

  it('postpones a timetabled logoff only as often as allowed', () => {
    const h = harness({
      lockAfterIdleSeconds: 0,
      logoffAfterLockedSeconds: 0,
      warningSeconds: 10,
      scheduledLogoff: { school: [{ time: '09:01' }] },
      postpone: { allowed: true, maxTimes: 2, seconds: 30 },
    });
    h.tick(52);
    expect(h.log.at(-1)!.action).toMatchObject({ kind: 'warn', canPostpone: true });
    expect(h.core.postpone()).toEqual([{ kind: 'postponed', reason: 'schedule', seconds: 30, timesLeft: 1 }]);
    h.tick(1);
    expect(h.log.at(-1)!.action).toMatchObject({ kind: 'warn', secondsLeft: 37, canPostpone: true });
    h.core.postpone();
    h.tick(1);
    expect(h.log.at(-1)!.action).toMatchObject({ kind: 'warn', canPostpone: false });
    expect(h.core.postpone()).toEqual([]);
    h.tick(80);
    expect(h.kinds('logoff')).toEqual([{ t: 120, action: { kind: 'logoff', reason: 'schedule' } }]);
  });

  it('idle and locked warnings cannot be postponed; a disallowed postpone does nothing', () => {
    const h = harness({ lockAfterIdleSeconds: 0, logoffAfterIdleSeconds: 20, warningSeconds: 10, postpone: { allowed: true } });
    h.tick(12);
    expect(h.log.at(-1)!.action).toMatchObject({ kind: 'warn', canPostpone: false });
    expect(h.core.postpone()).toEqual([]);
  });

  it('console commands: lock at once; logoff after a full warning that cannot be postponed', () => {
    const h = harness({ lockAfterIdleSeconds: 0, logoffAfterLockedSeconds: 0, warningSeconds: 6, postpone: { allowed: true } });
    expect(h.core.requestLock()).toEqual([{ kind: 'lock', reason: 'command' }]);
    h.core.lockResult(true);
    h.core.requestLogoff();
    h.tick(1);
    expect(h.log.at(-1)!.action).toEqual({ kind: 'warn', reason: 'command', secondsLeft: 5, canPostpone: false });
    h.tick(5);
    expect(h.kinds('logoff')).toEqual([{ t: 6, action: { kind: 'logoff', reason: 'command' } }]);
  });

  it('when no locker works, retries later instead of every second', () => {
    const clock = new FakeClock();
    const core = new SessionCore(clock, 'school');
    core.setPolicy({ lockAfterIdleSeconds: 5, logoffAfterLockedSeconds: 0 });
    let locks = 0;
    for (let i = 1; i <= 130; i++) {
      clock.advance(1000);
      for (const a of core.step({ idleMs: i * 1000, locked: false })) {
        if (a.kind === 'lock') (locks++, core.lockResult(false));
      }
    }
    expect(locks).toBe(3); // at 5 s, 65 s, 125 s
  });

  it('without an idle source, timetabled logoff still works and nothing locks', () => {
    const h = harness({ lockAfterIdleSeconds: 5, warningSeconds: 10, scheduledLogoff: { school: [{ time: '09:01' }] } });
    h.setIdle(null);
    h.tick(70);
    expect(h.kinds('lock')).toEqual([]);
    expect(h.kinds('logoff')).toHaveLength(1);
  });

  it('a corrupt session policy falls back to the defaults and says so', () => {
    const h = harness({ lockAfterIdleSeconds: -1, warningSeconds: 'x' });
    expect(h.setup).toEqual([{ kind: 'policy-invalid', detail: expect.stringMatching(/using defaults/) }]);
    expect(h.core.current.lockAfterIdleSeconds).toBe(300);
    h.tick(301);
    expect(h.kinds('lock')).toHaveLength(1);
  });
});
