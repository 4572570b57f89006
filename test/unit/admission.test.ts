import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { AdmissionGate } from '../../src/console/agent-link/admission.js';

/** Holds this thread, as a burst of upgrades or a big merge holds the console's event loop. */
function hold(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

const gates: AdmissionGate[] = [];
const gate = (maxLagMs: number) => {
  const g = new AdmissionGate(maxLagMs);
  gates.push(g);
  return g;
};
afterEach(() => gates.splice(0).forEach((g) => g.close()));

describe('AdmissionGate', () => {
  it('is open while the event loop keeps up', async () => {
    const g = gate(300);
    await sleep(400);
    expect(g.busy()).toBe(false);
    expect(g.lagMs()).toBeLessThan(300);
  });

  it('closes in the middle of a long turn, before any timer could report it', async () => {
    const g = gate(300);
    await sleep(100);
    hold(700);
    // Still inside the same turn: only the time since the last tick can tell.
    expect(g.busy()).toBe(true);
    expect(g.lagMs()).toBeGreaterThanOrEqual(300);
  });

  it('stays closed for a moment after a long turn, and opens again once the loop has kept up', async () => {
    const g = gate(300);
    await sleep(100);
    hold(800);
    // The next turns: the ticks run again, but the late one keeps the gate closed a moment.
    await sleep(60);
    expect(g.busy()).toBe(true);
    await sleep(700);
    expect(g.busy()).toBe(false);
  });

  it('never closes when turned off', async () => {
    const g = gate(0);
    hold(300);
    expect(g.busy()).toBe(false);
  });
});
