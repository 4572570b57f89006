import type { ActivityPauseReason } from './activity.js';
import type { MonitoringState } from './local-ipc.js';

/**
 * What is monitored on this device right now, in plain words for the pupil (tray menu and the
 * status page). Every control that is on gets a sentence, and so does activity reporting when
 * it is off or paused, so a pupil never has to guess.
 */
export function monitoredNow(state: MonitoringState): string[] {
  const lines: string[] = [];
  const apps = state.appControl;
  if (apps && apps.enforcement !== 'none') {
    lines.push(
      apps.mode === 'enforce' && apps.enforcement === 'pre-exec'
        ? 'Programs: only programs the school allows can start.'
        : 'Programs: the school is told when a program it has not approved is started.',
    );
  }
  if (state.idleLockSeconds) lines.push(`Screen lock: the screen locks after ${duration(state.idleLockSeconds)} without use.`);
  if (state.usbControl) lines.push('USB drives: only drives checked by the school can be opened.');
  const activity = state.activity;
  if (activity?.words) lines.push(activity.words.headline, ...activity.words.lines);
  else if (!activity || activity.mode === 'off') lines.push('Websites and windows: not recorded.');
  else if (!activity.collecting) lines.push(`Websites and windows: not recorded right now (${PAUSED[activity.pausedReason ?? 'error']}).`);
  else if (activity.mode === 'app-only') lines.push('Apps: the school sees which app you are using, not window titles.');
  else lines.push('Apps and window titles: the school sees which app and window you are using.');
  return lines;
}

/** The tray menu's one-line summary. */
export function monitoredSummary(state: MonitoringState): string {
  const on: string[] = [];
  if (state.appControl && state.appControl.enforcement !== 'none') on.push('programs');
  if (state.idleLockSeconds) on.push('screen lock');
  if (state.usbControl) on.push('USB drives');
  if (state.activity?.collecting && state.activity.mode !== 'off') on.push(state.activity.mode === 'app-only' ? 'apps in use' : 'apps and windows');
  return on.length ? `Monitored now: ${on.join(', ')}` : 'Nothing is monitored right now';
}

const PAUSED: Record<ActivityPauseReason, string> = {
  'policy-off': 'the school has turned it off',
  'outside-school-hours': 'outside school hours',
  'off-school-network': 'not on the school network',
  wayland: 'this desktop does not allow it',
  'no-session': 'nobody is signed in',
  error: 'it is not working at the moment',
};

function duration(seconds: number): string {
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.round(seconds / 60);
  return minutes === 1 ? '1 minute' : `${minutes} minutes`;
}
