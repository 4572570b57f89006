import { randomUUID } from 'node:crypto';
import { PROTOCOL_VERSION } from '../src/shared/protocol.js';

/**
 * What a real agent sends about its session every interval, for the fleet simulators: the activity
 * span that just closed (an `activity.spans` event: through the outbox, stored, acknowledged) and the
 * live `activity` frame. The window title carries the send time, so a dashboard feed subscriber
 * (dashboard-watch.ts) can time event-to-dashboard.
 */
export function activityRound(seq: number, intervalMs: number, now = Date.now()) {
  const window = { app: 'bench', title: `bench ${now}`, url: null, path: null };
  const span = { start: new Date(now - intervalMs).toISOString(), durationMs: intervalMs, kind: 'window' as const, window };
  const event = { id: randomUUID(), seq, at: new Date(now).toISOString(), type: 'activity.spans' as const, data: { spans: [span] } };
  const live = { collecting: true, mode: 'full' as const, pausedReason: null, window, since: new Date(now).toISOString(), idleSeconds: 0, locked: false };
  return {
    event,
    events: { v: PROTOCOL_VERSION, type: 'events' as const, events: [event] },
    activity: { v: PROTOCOL_VERSION, type: 'activity' as const, now: live },
  };
}

/** The `hello` a simulated agent sends once authenticated: no policy held, events only. */
export const SIM_HELLO = {
  v: PROTOCOL_VERSION,
  type: 'hello' as const,
  agentVersion: 'sim',
  policyVersion: null as number | null,
  policyDigest: null,
  mode: 'service' as const,
  capabilities: ['events'],
};

/**
 * The hello of a simulated agent that took policies in `policy` frames: like a real agent, it
 * says the highest version it holds (a reconnect storm's hellos then cost the console what real
 * agents' do).
 */
export function simHelloHolding(versions: Iterable<number>): typeof SIM_HELLO {
  const highest = Math.max(...versions);
  return Number.isFinite(highest) ? { ...SIM_HELLO, policyVersion: highest } : SIM_HELLO;
}
