import { performance } from 'node:perf_hooks';

/**
 * Time as session control sees it. Kept behind an interface so tests drive it with a fake.
 *
 * - `wallNow`: the wall clock (ms since the epoch). Jumps when NTP corrects it, when the user
 *   sets it, and by the whole sleep time when a laptop resumes.
 * - `monoNow`: a monotonic clock (ms). Never jumps; on Linux (CLOCK_MONOTONIC) it does not
 *   advance while the machine sleeps. Countdowns run on it, so a laptop that sleeps mid-warning
 *   resumes with the rest of the countdown still to show.
 * - `localMs`: the wall time shifted into the device's time zone (wall + UTC offset), read with
 *   UTC getters. Timetabled logoffs are in local time, and a zone change moves it.
 */
export interface SessionClock {
  wallNow(): number;
  monoNow(): number;
  localMs(wallMs: number): number;
}

export const systemClock: SessionClock = {
  wallNow: () => Date.now(),
  monoNow: () => performance.now(),
  localMs: (wallMs) => wallMs - new Date(wallMs).getTimezoneOffset() * 60_000,
};

export const DAY_MS = 86_400_000;

/** Weekday (0 = Sunday) and minutes since midnight of a local time from `localMs`. */
export function localParts(localMs: number): { weekday: number; minutes: number } {
  const d = new Date(localMs);
  return { weekday: d.getUTCDay(), minutes: d.getUTCHours() * 60 + d.getUTCMinutes() };
}
