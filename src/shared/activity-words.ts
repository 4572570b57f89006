import type { ActivityNow, ActivityPauseReason } from './activity.js';
import type { ActivityPolicy } from './activity-policy.js';

/**
 * What the tray tells the pupil, in plain words, about what school IT can see right now.
 * Platform-free so the tray, the console and tests share one wording. The headline answers
 * "is anything being shared?"; the lines say exactly what, and what never is. Returned as plain
 * text: the tray must render it as text (titles come from other programs).
 */
export interface SharingWords {
  /** One short sentence. */
  headline: string;
  /** Each a short sentence a pupil can read in a small window. */
  lines: string[];
}

const PAUSED: Record<ActivityPauseReason, string> = {
  'policy-off': 'Your school has turned activity sharing off for this computer.',
  'outside-school-hours': 'It is outside school hours, so nothing is being looked at or recorded.',
  'off-school-network': 'This computer is not on the school network, so nothing is being looked at or recorded.',
  wayland: 'This computer’s desktop does not let Vigil see which app you are using, so nothing about your apps is shared. School IT can see that this is why.',
  'no-session': 'Nobody is signed in to the desktop, so nothing is being shared.',
  error: 'Vigil cannot see which app you are using at the moment, so nothing about your apps is being shared.',
};

function hoursText(policy: ActivityPolicy): string | null {
  const hours = policy.byod?.schoolHours ?? [];
  if (!hours.length) return null;
  const dayNames: Record<string, string> = { mon: 'Mon', tue: 'Tue', wed: 'Wed', thu: 'Thu', fri: 'Fri', sat: 'Sat', sun: 'Sun' };
  return hours.map((h) => `${h.days.map((d) => dayNames[d]).join(', ')} ${h.start}–${h.end}`).join('; ');
}

export function describeSharing(now: ActivityNow, policy: ActivityPolicy | null, ownership: 'school' | 'byod'): SharingWords {
  if (!now.collecting) {
    const reason = now.pausedReason ?? 'policy-off';
    const lines = [PAUSED[reason]];
    const hours = policy && ownership === 'byod' ? hoursText(policy) : null;
    if (hours && (reason === 'outside-school-hours' || reason === 'off-school-network')) {
      lines.push(`On your own device, sharing only happens in school hours (${hours}) and on the school network.`);
    }
    return { headline: 'Nothing about your apps is being shared right now.', lines };
  }

  const lines: string[] = [];
  if (now.mode === 'full') {
    lines.push(
      'School IT can see the name of the app you are using, the title of its window (for example the name of a document or web page) and, where the computer gives it, the web address.',
    );
    if (policy?.redactTitles.length) lines.push('Some words in window titles are hidden before they are sent, by your school’s privacy rules.');
  } else {
    lines.push('School IT can see the name of the app you are using (for example “Firefox” or “Word”).');
    lines.push('They cannot see window titles, web addresses or what is inside your apps.');
  }
  lines.push('They can also see when this computer is not being used or is locked, and for how long you use each app.');
  lines.push('Vigil never records your screen, your typing or your files.');
  if (ownership === 'byod') lines.push('Because this is your own device, this only happens in school hours and on the school network.');
  if (now.mode === 'full' && now.window?.title)
    lines.unshift(`Right now they see the window title “${now.window.title}”${now.window.url ? ` and the address ${now.window.url}` : ''}.`);
  if (now.locked) lines.unshift('Right now they see that this computer is locked.');
  else if (!now.window) {
    const idle = now.idleSeconds !== null && now.idleSeconds >= (policy?.idleAfterSeconds ?? 180);
    lines.unshift(idle ? 'Right now they see that this computer is not being used.' : 'Right now no app window is in front, so no app is shared.');
  }
  const headline = now.window ? `School IT can see that you are using ${now.window.app}.` : 'School IT can see which app you are using.';
  return { headline, lines };
}
