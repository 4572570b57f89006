/** Counters of the agents' link, shown by GET /api/v1/stats: every drop is counted. */
export interface AgentLinkStats {
  connected: number;
  /** WebSocket connections accepted since start (each then has to authenticate). */
  accepted: number;
  authenticated: number;
  eventsStored: number;
  duplicateEvents: number;
  rejectedFrames: number;
  unreadableEvents: number;
  /** Events no consumer took (a private type whose consumer is missing). */
  unroutedEvents: number;
  /** Unauthenticated connections closed to make room for a newer one from the same address (or when all slots were full). */
  preAuthEvicted: number;
  /** Unauthenticated connections that did not authenticate in time. */
  preAuthTimedOut: number;
  /** WebSocket upgrades refused because a browser page (an Origin header) asked for them. */
  refusedOrigin: number;
  /** WebSocket upgrades turned away (503) while the console's event loop was late (agent-link/admission.ts). */
  refusedBusy: number;
  /** Turns of the event loop that were late by more than the admission limit, and the worst (ms). */
  lateTurns: number;
  worstLateMs: number;
  /** Frames of signed-in devices dropped for being over their per-device budget (per device: `overBudget` in the stats). */
  framesOverBudget: number;
  /** Keepalive visits (agent-link/keepalive.ts): pings written, pings not needed, connections dropped for a missed pong. */
  pingsSent: number;
  pingsSkipped: number;
  missedPongs: number;
}

export const newAgentLinkStats = (): AgentLinkStats => ({
  connected: 0,
  accepted: 0,
  authenticated: 0,
  eventsStored: 0,
  duplicateEvents: 0,
  rejectedFrames: 0,
  unreadableEvents: 0,
  unroutedEvents: 0,
  preAuthEvicted: 0,
  preAuthTimedOut: 0,
  refusedOrigin: 0,
  refusedBusy: 0,
  lateTurns: 0,
  worstLateMs: 0,
  framesOverBudget: 0,
  pingsSent: 0,
  pingsSkipped: 0,
  missedPongs: 0,
});
