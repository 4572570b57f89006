import type { SessionClock } from '../../src/agent/session/clock.js';
import { SessionCore, type SessionAction } from '../../src/agent/session/core.js';
import type { Ownership } from '../../src/shared/session.js';

/** A clock the test moves: wall and monotonic together, or apart to simulate sleep and clock changes. */
export class FakeClock implements SessionClock {
  wall = Date.parse('2026-11-23T09:00:00Z'); // a Monday
  mono = 1_000_000;
  offsetMs = 0;
  wallNow = () => this.wall;
  monoNow = () => this.mono;
  localMs = (w: number) => w + this.offsetMs;
  advance(ms: number) {
    this.wall += ms;
    this.mono += ms;
  }
}

/** Drives the core like the runner: one step per second, an idle counter that input resets. */
export function harness(session: unknown, ownership: Ownership = 'school') {
  const clock = new FakeClock();
  const core = new SessionCore(clock, ownership);
  const setup = core.setPolicy(session);
  let idleMs: number | null = 0;
  let locked = false;
  const log: { t: number; action: SessionAction }[] = [];
  const start = clock.mono;
  const tick = (seconds = 1) => {
    for (let i = 0; i < seconds; i++) {
      clock.advance(1000);
      if (idleMs !== null) idleMs += 1000;
      for (const action of core.step({ idleMs, locked })) {
        log.push({ t: Math.round((clock.mono - start) / 1000), action });
        if (action.kind === 'lock') ((locked = true), core.lockResult(true));
        if (action.kind === 'logoff') locked = false;
      }
    }
  };
  return {
    clock,
    core,
    setup,
    log,
    tick,
    input: () => (idleMs = 0),
    setIdle: (v: number | null) => (idleMs = v),
    unlock: () => ((locked = false), (idleMs = 0)),
    kinds: (kind: SessionAction['kind']) => log.filter((e) => e.action.kind === kind),
    at: () => Math.round((clock.mono - start) / 1000),
  };
}
