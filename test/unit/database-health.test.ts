import { describe, expect, it } from 'vitest';
import { DatabaseHealth } from '../../src/console/health.js';

describe('database health for /healthz', () => {
  it('is ok when the ping answers, and says why not when it fails', async () => {
    expect(await new DatabaseHealth(async () => undefined).check()).toEqual({ ok: true });
    expect(await new DatabaseHealth(() => Promise.reject(new Error('connect ECONNREFUSED'))).check()).toEqual({
      ok: false,
      problem: 'the database is unreachable: connect ECONNREFUSED',
    });
  });

  it('is not ok when the ping never answers', async () => {
    const report = await new DatabaseHealth(() => new Promise<void>(() => undefined), 20).check();
    expect(report).toEqual({ ok: false, problem: 'the database did not answer within 20 ms' });
  });

  it('sends one ping for checks that arrive while one is in flight, and a new one after', async () => {
    let pings = 0;
    let answer: () => void = () => undefined;
    const health = new DatabaseHealth(() => (pings++, new Promise<void>((resolve) => (answer = resolve))));
    const checks = [health.check(), health.check(), health.check()];
    answer();
    expect(await Promise.all(checks)).toEqual([{ ok: true }, { ok: true }, { ok: true }]);
    expect(pings).toBe(1);
    const next = health.check();
    answer();
    await next;
    expect(pings).toBe(2);
  });
});
