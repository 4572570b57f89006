/**
 * When the console pings an agent (pure). Each connection is visited once per ping interval. A
 * ping is a socket write on both sides (the ping, the pong), and at 10,000 agents pings were
 * about half of the console's writes in steady state; most of them told each side nothing new.
 *
 * - The console needs proof the agent is alive once per interval: any frame from it, or a pong.
 * - The agent drops a console it has not heard from for pingSeconds x 2.5 + 5 s (agent/link.ts):
 *   the console writes something at least every second interval, so the agent's longest silence
 *   is two intervals.
 *
 * So a visit skips the ping when the agent spoke since the last visit and the console wrote to it
 * since then; it drops a connection it pinged at the last visit that has said nothing since. A
 * dead agent is dropped within three intervals (two when it had been quiet), instead of two.
 */
export interface KeepaliveState {
  /** A frame or a pong came from the agent since the last visit. */
  heard: boolean;
  /** The console wrote a frame or a ping to the agent since the last visit. */
  wrote: boolean;
  /** The last visit pinged. */
  pinged: boolean;
}

export type KeepaliveAction = 'drop' | 'ping' | 'skip';

export const freshKeepalive = (): KeepaliveState => ({ heard: true, wrote: true, pinged: false });

/** Decides one visit and starts the next interval (the caller pings or drops as told). */
export function visitKeepalive(state: KeepaliveState): KeepaliveAction {
  const action: KeepaliveAction = state.pinged && !state.heard ? 'drop' : state.heard && state.wrote ? 'skip' : 'ping';
  state.heard = false;
  state.wrote = action === 'ping';
  state.pinged = action === 'ping';
  return action;
}
