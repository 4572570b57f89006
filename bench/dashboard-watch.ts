import type { FeedMessage } from '../src/shared/api.js';
import { readEventStream } from '../src/shared/event-stream.js';

/**
 * A dashboard stand-in for the benchmark: subscribes to the console's live feed like the browser
 * does and, for every device update whose active window title is `bench <send time in ms>`,
 * records how long after sending it arrived. The simulator runs on the same machine (same clock).
 * Only frames sent after the stream opened are timed.
 */
export interface DashboardWatch {
  measuring: boolean;
  latencies: number[];
  /** When each of `latencies` was sent (ms since the epoch), in the same order. */
  sentAt: number[];
  /** Updates that took over a second, with when they were sent: which part of a run held them. */
  late: { sent: number; ms: number; app: string; policyVersion: number | null }[];
  /** Frames sent before the stream opened, first seen here over a second after sending while measuring (not timed). */
  sentBeforeOpenLate: number;
  close(): void;
}

const STAMP = /^bench (\d+)$/;

export async function watchDashboard(url: string, session: string): Promise<DashboardWatch> {
  const controller = new AbortController();
  const res = await fetch(`${url}/api/v1/feed`, { headers: { authorization: `Bearer ${session}` }, signal: controller.signal });
  if (res.status !== 200) throw new Error(`feed refused: ${res.status}`);
  const lastStamp = new Map<string, number>();
  // A frame sent before the stream opened was published to nobody here: when its device's summary
  // is published again for another reason (an ack, a status), it would look like a late update.
  const openedAt = Date.now();
  const watch: DashboardWatch = { measuring: false, latencies: [], sentAt: [], late: [], sentBeforeOpenLate: 0, close: () => controller.abort() };
  void readEventStream(res.body as unknown as AsyncIterable<Uint8Array>, (event, data) => {
    if (event !== 'batch') return;
    const arrived = Date.now();
    // Not validated with the schema here: the stand-in must cost the shared CPU as little as possible.
    for (const message of JSON.parse(data) as FeedMessage[]) {
      if (message.kind !== 'device') continue;
      const stamp = STAMP.exec(message.device.activity?.window?.title ?? '');
      if (!stamp) continue;
      const sent = Number(stamp[1]);
      // The same state may be republished (a status or heartbeat write): count each frame once.
      if ((lastStamp.get(message.device.id) ?? 0) >= sent) continue;
      lastStamp.set(message.device.id, sent);
      if (!watch.measuring) continue;
      if (sent < openedAt) {
        if (arrived - sent > 1000) watch.sentBeforeOpenLate++;
        continue;
      }
      watch.latencies.push(arrived - sent);
      watch.sentAt.push(sent);
      if (arrived - sent > 1000)
        watch.late.push({ sent, ms: arrived - sent, app: message.device.activity?.window?.app ?? '', policyVersion: message.device.policyVersion });
    }
  }).catch(() => undefined /* closed at the end */);
  return watch;
}
