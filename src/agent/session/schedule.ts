import { WEEKDAYS, type ScheduledLogoff } from '../../shared/session.js';
import { DAY_MS } from './clock.js';

/** Looking further back than this after a long sleep gains nothing: one warning is enough. */
const MAX_SCAN_DAYS = 14;

/**
 * The latest timetabled logoff (local ms) whose warning should start in (fromLocal, toLocal]:
 * that is, with `time - warningMs` inside the interval. Null if none.
 */
export function latestDueLogoff(entries: readonly ScheduledLogoff[], fromLocal: number, toLocal: number, warningMs: number): number | null {
  if (!entries.length || toLocal <= fromLocal) return null;
  const firstDay = Math.max(Math.floor(fromLocal / DAY_MS), Math.floor(toLocal / DAY_MS) - MAX_SCAN_DAYS);
  const lastDay = Math.floor((toLocal + warningMs) / DAY_MS);
  let latest: number | null = null;
  for (let day = firstDay; day <= lastDay; day++) {
    const weekday = WEEKDAYS[new Date(day * DAY_MS).getUTCDay()]!;
    for (const entry of entries) {
      if (!entry.days.includes(weekday)) continue;
      const [h, m] = entry.time.split(':').map(Number) as [number, number];
      const at = day * DAY_MS + (h * 60 + m) * 60_000;
      const warnAt = at - warningMs;
      if (warnAt > fromLocal && warnAt <= toLocal && (latest === null || at > latest)) latest = at;
    }
  }
  return latest;
}
