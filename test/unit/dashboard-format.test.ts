import { describe, expect, it } from 'vitest';
import { activityNow } from '../helpers/activity-now.js';
import { activityText, droppedText, duration, idleText, lostShort, refusedText } from '../../renderer/dashboard/format.js';
import type { DeviceSummary } from '../../src/shared/api.js';

const now = activityNow;

describe('what the grid says (issue 20)', () => {
  it('durations are not rounded down: 179 s is "2 min 59 s", long ones to the nearest minute', () => {
    expect(duration(59)).toBe('59 s');
    expect(duration(179)).toBe('2 min 59 s');
    expect(idleText(now({ idleSeconds: 179 }))).toBe('2 min 59 s');
    expect(duration(180)).toBe('3 min');
    expect(duration(29 * 60 + 50)).toBe('30 min');
    expect(duration(3600 + 59 * 60 + 40)).toBe('2 h 0 min');
  });

  it('an idle pupil is "Idle", not "No window in front"; a desktop with nothing focused still is', () => {
    expect(activityText(now({ idle: true, idleSeconds: 400 }))).toEqual(['Idle', 'no input for 6 min 40 s']);
    expect(activityText(now({ idle: false, idleSeconds: 2 }))[0]).toBe('No window in front');
    expect(activityText(now({ collecting: false, pausedReason: 'no-session', idleSeconds: null, locked: null }))[0]).toBe('nobody signed in');
  });

  it('events the device dropped are shown with the time of the last drop', () => {
    const device = (outbox: unknown) => ({ status: { outbox } }) as unknown as DeviceSummary;
    expect(droppedText(device(undefined))).toEqual(['—', '']);
    expect(droppedText(device({ pending: 3, dropped: 0, lastDroppedAt: null }))).toEqual(['none', '']);
    const [count, when] = droppedText(device({ pending: 3, dropped: 4200, lastDroppedAt: new Date(Date.now() - 5000).toISOString() }));
    expect(count).toBe('4,200 events lost');
    expect(lostShort(device({ pending: 3, dropped: 4200, lastDroppedAt: null }))).toBe('4,200 lost');
    expect(lostShort(device({ pending: 3, dropped: 0, lastDroppedAt: null }))).toBe('');
    expect(when).toMatch(/^last \d+ s ago$/);
  });

  it('what was refused from the device is shown to the technician (issue 15: frame budgets, the tray socket)', () => {
    const device = (over: object) => over as unknown as DeviceSummary;
    expect(refusedText(device({ status: null }))).toBe('none');
    expect(refusedText(device({ framesDropped: 2970, status: null }))).toBe('2,970 frames over budget');
    const localIpc = { refusedPerUser: 60, refusedTotal: 2, handshakeTimeouts: 8, idleTimeouts: 0, notTheTray: 3 };
    expect(refusedText(device({ framesDropped: 0, status: { localIpc } }))).toBe(
      '62 tray connections refused; 8 silent tray connections closed; 3 claims from a program that is not the tray',
    );
  });
});
