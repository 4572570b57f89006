import { ActivitySpansDataSchema, type ActivitySpan } from '../shared/activity.js';
import type { EventStore } from './store/store.js';

/** Activity events are read back for a time range; this many events at most per query. */
const MAX_ACTIVITY_EVENTS_READ = 5000;
/** Spans travel in batches sent after they close, possibly much later (a laptop offline for days). */
const ACTIVITY_LATE_DELIVERY_MS = 7 * 86400_000;

/**
 * Spans from a device's `activity.spans` events that overlap [from, to), oldest first; at most
 * `maxSpans` (the latest ones when there are more). The store reads the candidate batches; which
 * spans of them fall in the range is decided here, the same for every store.
 */
export async function activitySpans(
  store: Pick<EventStore, 'listActivityBatches'>,
  deviceId: string,
  filter: { from: string; to: string; maxSpans: number },
): Promise<ActivitySpan[]> {
  const from = Date.parse(filter.from);
  const to = Date.parse(filter.to);
  // A batch is sent after its spans end, so batches sent before `from` cannot overlap the range.
  const batches = await store.listActivityBatches(deviceId, {
    sentFrom: filter.from,
    sentBefore: new Date(to + ACTIVITY_LATE_DELIVERY_MS).toISOString(),
    limit: MAX_ACTIVITY_EVENTS_READ,
  });
  const spans: ActivitySpan[] = [];
  for (const batch of batches) {
    const data = ActivitySpansDataSchema.safeParse(batch);
    if (!data.success) continue;
    for (const span of data.data.spans) {
      const start = Date.parse(span.start);
      if (start < to && start + span.durationMs > from) spans.push(span);
    }
  }
  spans.sort((a, b) => Date.parse(a.start) - Date.parse(b.start));
  return spans.slice(-filter.maxSpans);
}
