import type { ActivityPauseReason } from '../../shared/activity.js';
import { WEEKDAYS } from '../../shared/session.js';
import type { ActivityPolicy, SchoolHours } from '../../shared/activity-policy.js';
import type { Ownership } from '../../shared/session.js';
import { localParts } from '../session/clock.js';
import type { DisplayServer } from './display-server.js';

const minutesOf = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/** Whether a local time (from SessionClock.localMs) falls inside any block of school hours. */
export function inSchoolHours(hours: readonly SchoolHours[], localMs: number): boolean {
  const { weekday, minutes } = localParts(localMs);
  return hours.some((h) => h.days.includes(WEEKDAYS[weekday]!) && minutes >= minutesOf(h.start) && minutes < minutesOf(h.end));
}

export interface GateInput {
  policy: ActivityPolicy;
  ownership: Ownership;
  localMs: number;
  displayServer: DisplayServer;
  /**
   * Asked only for a BYOD device inside school hours: whether it is on the school network now
   * (null: not known yet, which counts as not). Never asked otherwise, so nothing about the
   * network is looked at outside school hours either.
   */
  onSchoolNetwork: () => boolean | null;
}

/**
 * Whether activity may be collected now, and if not, why. Checked before every sample; when
 * it says no, the sampler does not run at all (no window is read, no helper process lives).
 */
export function pauseReason(input: GateInput): ActivityPauseReason | null {
  const { policy } = input;
  if (policy.mode === 'off') return 'policy-off';
  if (input.ownership === 'byod') {
    if (!policy.byod || !inSchoolHours(policy.byod.schoolHours, input.localMs)) return 'outside-school-hours';
    if (!policy.byod.schoolNetwork || input.onSchoolNetwork() !== true) return 'off-school-network';
  }
  if (input.displayServer === 'wayland') return 'wayland';
  if (input.displayServer === 'none') return 'no-session';
  return null;
}
