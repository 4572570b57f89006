import { describe, expect, it } from 'vitest';
import { PenaltyBox } from '../../src/console/rate-limit.js';
import { Backoff } from '../../src/shared/backoff.js';

describe('Backoff', () => {
  it('grows exponentially with jitter inside [cap/2, cap] and stops at the maximum', () => {
    const low = new Backoff(100, 1000, () => 0);
    const high = new Backoff(100, 1000, () => 1);
    expect([low.next(), low.next(), low.next(), low.next(), low.next()]).toEqual([50, 100, 200, 400, 500]);
    expect([high.next(), high.next(), high.next(), high.next(), high.next()]).toEqual([100, 200, 400, 800, 1000]);
    low.reset();
    expect(low.next()).toBe(50);
  });
  it('spreads reconnects of many devices apart', () => {
    const delays = Array.from({ length: 200 }, () => new Backoff(1000, 60_000).next());
    expect(new Set(delays).size).toBeGreaterThan(100);
  });
  it('honours a floor the console asked for', () => {
    expect(new Backoff(100, 1000, () => 0).nextAtLeast(5000)).toBe(5000);
  });
});

describe('PenaltyBox', () => {
  it('boxes a key after too many failures and doubles the penalty on repeat', () => {
    let t = 0;
    const box = new PenaltyBox({ maxFailures: 3, windowMs: 1000, basePenaltyMs: 100, maxPenaltyMs: 250, now: () => t });
    expect(box.fail('k')).toBe(0);
    expect(box.fail('k')).toBe(0);
    expect(box.fail('k')).toBe(100);
    expect(box.retryAfterMs('k')).toBe(100);
    expect(box.retryAfterMs('other')).toBe(0);
    t = 150;
    expect(box.retryAfterMs('k')).toBe(0);
    box.fail('k');
    box.fail('k');
    expect(box.fail('k')).toBe(200);
    t = 1000;
    box.fail('k');
    box.fail('k');
    expect(box.fail('k')).toBe(250); // capped
    box.succeed('k');
    expect(box.retryAfterMs('k')).toBe(0);
  });
  it('forgets failures outside the window', () => {
    let t = 0;
    const box = new PenaltyBox({ maxFailures: 2, windowMs: 100, basePenaltyMs: 100, maxPenaltyMs: 100, now: () => t });
    box.fail('k');
    t = 200;
    expect(box.fail('k')).toBe(0);
  });
});
