import type { ActivityNow } from '../../src/shared/activity.js';

/** A live activity state: collecting, full mode, nothing in front, active; `over` changes any field. */
export const activityNow = (over: Partial<ActivityNow> = {}): ActivityNow => ({
  collecting: true,
  mode: 'full',
  pausedReason: null,
  window: null,
  since: null,
  idleSeconds: 0,
  locked: false,
  ...over,
});
