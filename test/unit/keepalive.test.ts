import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { freshKeepalive, visitKeepalive, type KeepaliveAction } from '../../src/console/agent-link/keepalive.js';

/**
 * The console's keepalive visits, one per ping interval. What each interval held is given as
 * whether the agent sent a frame and whether the console wrote one; an alive agent answers
 * every ping with a pong before the next visit, a dead one says nothing from some interval on.
 */
interface Interval {
  agentSpoke: boolean;
  consoleWrote: boolean;
}

function run(intervals: readonly Interval[], diesAt = Infinity): { actions: KeepaliveAction[]; longestUnwritten: number } {
  const state = freshKeepalive();
  const actions: KeepaliveAction[] = [];
  let sinceWrite = 0;
  let longestUnwritten = 0;
  // The connection opened with the console's challenge and the agent's answer: written and heard.
  let pinged = true;
  for (const [i, interval] of intervals.entries()) {
    const alive = i < diesAt;
    if (alive && (interval.agentSpoke || pinged)) state.heard = true;
    if (interval.consoleWrote) state.wrote = true;
    // Intervals in which the console wrote nothing (its ping at the last visit counts as written).
    sinceWrite = interval.consoleWrote || pinged ? 0 : sinceWrite + 1;
    longestUnwritten = Math.max(longestUnwritten, sinceWrite);
    const action = visitKeepalive(state);
    actions.push(action);
    if (action === 'drop') break;
    pinged = action === 'ping';
  }
  return { actions, longestUnwritten };
}

const quiet: Interval = { agentSpoke: false, consoleWrote: false };
const busy: Interval = { agentSpoke: true, consoleWrote: true };
const intervals = fc.array(fc.record({ agentSpoke: fc.boolean(), consoleWrote: fc.boolean() }), { minLength: 1, maxLength: 60 });

describe('keepalive visits', () => {
  it('pings a quiet agent every other interval, and never one that speaks and is written to', () => {
    expect(run(Array(8).fill(quiet)).actions).toEqual(['skip', 'ping', 'skip', 'ping', 'skip', 'ping', 'skip', 'ping']);
    expect(run(Array(8).fill(busy)).actions).toEqual(Array(8).fill('skip'));
    // Spoken to but silent itself (a dashboard push to an agent that sends nothing): pinged for proof of life.
    expect(run(Array(4).fill({ agentSpoke: false, consoleWrote: true })).actions).toEqual(['skip', 'ping', 'skip', 'ping']);
  });

  it('drops an agent that stops answering within three intervals, and never an agent that answers', () => {
    fc.assert(
      fc.property(intervals, (list) => {
        const { actions, longestUnwritten } = run(list);
        expect(actions).not.toContain('drop');
        // The agent drops a console silent for 2.5 intervals + 5 s: it never waits more than two.
        expect(longestUnwritten).toBeLessThanOrEqual(1);
      }),
    );
    fc.assert(
      fc.property(intervals, fc.nat(20), (list, diesAt) => {
        const padded = [...list, ...Array(4).fill(busy)];
        const { actions } = run(padded, Math.min(diesAt, list.length));
        const dropAt = actions.indexOf('drop');
        expect(dropAt).toBeGreaterThanOrEqual(0);
        expect(dropAt - Math.min(diesAt, list.length)).toBeLessThanOrEqual(2);
      }),
    );
  });
});
