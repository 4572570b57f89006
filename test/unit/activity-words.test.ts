import { describe, expect, it } from 'vitest';
import { activityNow } from '../helpers/activity-now.js';
import { ActivityPolicySchema } from '../../src/shared/activity-policy.js';
import { describeSharing } from '../../src/shared/activity-words.js';

const now = activityNow;
const text = (w: { headline: string; lines: string[] }) => [w.headline, ...w.lines].join(' ');

describe('what the tray tells the pupil', () => {
  it('full mode names the app, titles and web addresses, and mentions hidden words only when there are rules', () => {
    const policy = ActivityPolicySchema.parse({ mode: 'full', redactTitles: ['secret'] });
    const w = describeSharing(now({ window: { app: 'Firefox', title: 'Inbox - [hidden]', url: 'https://mail.example/', path: null } }), policy, 'school');
    expect(w.headline).toBe('School IT can see that you are using Firefox.');
    expect(w.lines[0]).toBe('Right now they see the window title “Inbox - [hidden]” and the address https://mail.example/.');
    expect(text(w)).toMatch(/title of its window/);
    expect(text(w)).toMatch(/web address/);
    expect(text(w)).toMatch(/hidden/);
    expect(text(describeSharing(now({}), ActivityPolicySchema.parse({ mode: 'full' }), 'school'))).not.toMatch(/hidden/);
  });

  it('app-only says titles and web addresses are NOT seen', () => {
    const w = describeSharing(
      now({ mode: 'app-only', window: { app: 'XTerm', title: null, url: null, path: null } }),
      ActivityPolicySchema.parse({ mode: 'app-only' }),
      'school',
    );
    expect(w.headline).toBe('School IT can see that you are using XTerm.');
    expect(text(w)).toMatch(/cannot see window titles, web addresses/);
    expect(text(w)).not.toMatch(/can see the name of the app you are using, the title/);
    expect(text(w)).not.toMatch(/Right now they see the window title/);
  });

  it('says when what is seen is that the computer is idle or locked', () => {
    expect(describeSharing(now({ locked: true }), null, 'school').lines[0]).toBe('Right now they see that this computer is locked.');
    expect(describeSharing(now({ window: null, idleSeconds: 400 }), null, 'school').lines[0]).toBe('Right now they see that this computer is not being used.');
    expect(describeSharing(now({ window: null, idleSeconds: 2 }), null, 'school').lines[0]).toBe('Right now no app window is in front, so no app is shared.');
  });

  it('paused: says nothing is shared, and why, in plain words', () => {
    const byod = ActivityPolicySchema.parse({
      mode: 'full',
      byod: { schoolHours: [{ days: ['mon', 'tue'], start: '08:30', end: '15:30' }], schoolNetwork: { cidrs: ['10.0.0.0/8'] } },
    });
    const outside = describeSharing(now({ collecting: false, pausedReason: 'outside-school-hours', idleSeconds: null, locked: null }), byod, 'byod');
    expect(outside.headline).toBe('Nothing about your apps is being shared right now.');
    expect(text(outside)).toMatch(/outside school hours/);
    expect(text(outside)).toMatch(/Mon, Tue 08:30–15:30/);
    for (const [reason, words] of [
      ['policy-off', /turned activity sharing off/],
      ['off-school-network', /not on the school network/],
      ['wayland', /does not let Vigil see/],
      ['no-session', /Nobody is signed in/],
      ['error', /cannot see which app/],
    ] as const) {
      const w = describeSharing(now({ collecting: false, pausedReason: reason }), null, 'school');
      expect(w.headline).toMatch(/Nothing/);
      expect(text(w)).toMatch(words);
    }
  });

  it('BYOD while collecting says it only happens in school hours on the school network', () => {
    expect(text(describeSharing(now({ mode: 'app-only' }), null, 'byod'))).toMatch(/only happens in school hours and on the school network/);
    expect(text(describeSharing(now({ mode: 'app-only' }), null, 'school'))).not.toMatch(/your own device/);
  });
});
