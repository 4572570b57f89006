/** Counters of the agents' link, shown by GET /api/v1/stats: every drop is counted. */
export interface AgentLinkStats {
  connected: number;
  authenticated: number;
  eventsStored: number;
  duplicateEvents: number;
  rejectedFrames: number;
  unreadableEvents: number;
  /** Events no consumer took (a private type whose consumer is missing). */
  unroutedEvents: number;
}

export const newAgentLinkStats = (): AgentLinkStats => ({
  connected: 0,
  authenticated: 0,
  eventsStored: 0,
  duplicateEvents: 0,
  rejectedFrames: 0,
  unreadableEvents: 0,
  unroutedEvents: 0,
});
