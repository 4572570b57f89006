import type { ActivityNow, ActivityPauseReason } from '../../src/shared/activity.js';
import type { DeviceSummary } from '../../src/shared/api.js';

/** Words the technician sees for each device field. Pure functions: no DOM. */

export type PresenceLabel = 'online' | 'offline' | 'asleep' | 'revoked';

export function presenceOf(d: DeviceSummary): PresenceLabel {
  return d.revoked ? 'revoked' : d.presence;
}

export const PRESENCE_TEXT: Record<PresenceLabel, string> = { online: 'Online', offline: 'Offline', asleep: 'Asleep', revoked: 'Revoked' };

const PAUSE_TEXT: Record<ActivityPauseReason, string> = {
  'policy-off': 'activity reporting off (policy)',
  'outside-school-hours': 'not reported outside school hours',
  'off-school-network': 'not reported off the school network',
  wayland: 'activity unavailable (Wayland)',
  'no-session': 'nobody signed in',
  error: 'activity unavailable (error on the device)',
};

/** The active window as the privacy mode allows: [main line, detail line]. */
export function activityText(a: ActivityNow | null): [string, string] {
  if (!a) return ['—', ''];
  if (!a.collecting) return [a.pausedReason ? PAUSE_TEXT[a.pausedReason] : 'activity not reported', ''];
  if (a.locked) return ['Screen locked', ''];
  if (a.idle) return ['Idle', a.idleSeconds === null ? '' : `no input for ${duration(a.idleSeconds)}`];
  if (!a.window) return ['No window in front', ''];
  const detail = a.mode === 'app-only' ? 'title not reported (app only)' : (a.window.title ?? '');
  return [a.window.app, detail];
}

/** Under ten minutes to the second ("2 min 59 s", never "2 min" for 179 s); longer, to the nearest minute. */
export function duration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 600) return s % 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s / 60} min`;
  const minutes = Math.round(s / 60);
  if (minutes < 60) return `${minutes} min`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

export function idleText(a: ActivityNow | null): string {
  if (!a || a.idleSeconds === null) return '—';
  return a.idleSeconds < 60 ? 'active' : duration(a.idleSeconds);
}

export function lockText(a: ActivityNow | null): string {
  if (!a || a.locked === null) return '—';
  return a.locked ? 'Locked' : 'Unlocked';
}

export const AUP_TEXT: Record<NonNullable<DeviceSummary['aup']>, string> = {
  accepted: 'Accepted',
  'not-accepted': 'Not accepted',
  'not-required': 'Not required',
  'no-user': '—',
};

export function policyText(d: DeviceSummary, current: number | null): [string, string] {
  if (d.policyVersion === null) return ['—', current ? 'no policy yet' : ''];
  if (current === null) return [`v${d.policyVersion}`, ''];
  return [`v${d.policyVersion}`, d.policyVersion >= current ? 'current' : `behind (v${current})`];
}

export function enforcementText(d: DeviceSummary): [string, string] {
  const apps = d.status?.appControl;
  if (!apps) return ['—', ''];
  const label = apps.enforcement === 'pre-exec' ? 'Pre-exec gate' : apps.enforcement === 'fallback' ? 'Fallback' : 'None';
  return [label, apps.mode ?? ''];
}

/** Events the device's outbox dropped unsent (never silent): [count, when the last was dropped]. */
export function droppedText(d: DeviceSummary): [string, string] {
  const o = d.status?.outbox;
  if (!o) return ['—', ''];
  if (o.dropped === 0) return ['none', ''];
  return [`${o.dropped.toLocaleString('en-GB')} events lost`, o.lastDroppedAt ? `last ${relative(o.lastDroppedAt)}` : ''];
}

/**
 * What the console and the device refused from the device's side: frames over the console's
 * per-device budgets, and tray-socket connections or claims the service refused (issue 15).
 */
export function refusedText(d: DeviceSummary): string {
  const parts: string[] = [];
  if (d.framesDropped) parts.push(`${d.framesDropped.toLocaleString('en-GB')} frames over budget`);
  const ipc = d.status?.localIpc;
  if (ipc) {
    const refused = ipc.refusedPerUser + ipc.refusedTotal;
    const timeouts = ipc.handshakeTimeouts + ipc.idleTimeouts;
    if (refused) parts.push(`${refused.toLocaleString('en-GB')} tray connections refused`);
    if (timeouts) parts.push(`${timeouts.toLocaleString('en-GB')} silent tray connections closed`);
    if (ipc.notTheTray) parts.push(`${ipc.notTheTray.toLocaleString('en-GB')} claims from a program that is not the tray`);
  }
  return parts.length ? parts.join('; ') : 'none';
}

/** The same in a few characters for the grid ("" when nothing was lost). */
export function lostShort(d: DeviceSummary): string {
  const n = d.status?.outbox?.dropped ?? 0;
  return n ? `${n.toLocaleString('en-GB')} lost` : '';
}

export function blocksText(d: DeviceSummary): [string, string] {
  const b = d.blocks;
  if (!b || b.count24h === 0) return ['0', ''];
  return [String(b.count24h), b.lastName ? `last: ${b.lastName}` : ''];
}

export function relative(iso: string | null, now = Date.now()): string {
  if (!iso) return 'never';
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
  return new Date(iso).toLocaleString('en-GB');
}

export function clock(iso: string): string {
  return new Date(iso).toLocaleString('en-GB', { day: '2-digit', month: 'short', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}
