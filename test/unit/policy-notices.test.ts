import { describe, expect, it } from 'vitest';
import { PolicyNoticeTracker } from '../../src/agent/policy-notices.js';
import { POLICY_LIMITS } from '../../src/shared/policy-limits.js';
import { PolicyAvailableMessageSchema, type PolicyAvailableMessage } from '../../src/shared/policies/delivery.js';

const D = (n: number) => n.toString(16).padStart(64, '0');
const notice = (version: number, digest: string, size = 1000): PolicyAvailableMessage =>
  PolicyAvailableMessageSchema.parse({ v: 1, type: 'policy.available', version, digest, size, compressed: { encoding: 'br', size: 100, sha256: D(99) } });

describe('agent policy notices: never a loop', () => {
  it('a notice of something bigger than the agent takes is refused once, naming the limit, then ignored', () => {
    const tracker = new PolicyNoticeTracker(() => 0);
    const big = notice(5, D(1), POLICY_LIMITS.bundleBytes + 1);
    const first = tracker.decide(big, { version: 4, digest: D(2) });
    expect(first).toMatchObject({ action: 'refuse', problem: { problem: 'too-large', detail: expect.stringContaining('the bundle size limit') } });
    for (let i = 0; i < 100; i++) expect(tracker.decide(big, { version: 4, digest: D(2) })).toEqual({ action: 'ignore', why: 'refused-before' });
  });
  it('a bundle refused for good (bad signature, rollback...) is not fetched again; a new version is', () => {
    const tracker = new PolicyNoticeTracker(() => 0);
    const bad = notice(5, D(1));
    expect(tracker.decide(bad, { version: 4, digest: D(2) })).toEqual({ action: 'fetch' });
    expect(tracker.settle(bad, { ok: false, problems: [{ via: 'full', problem: 'bad-signature', detail: 'x' }] })).toEqual({ retryInMs: null });
    expect(tracker.decide(bad, { version: 4, digest: D(2) })).toEqual({ action: 'ignore', why: 'refused-before' });
    expect(tracker.decide(notice(6, D(3)), { version: 4, digest: D(2) })).toEqual({ action: 'fetch' });
  });
  it('a passing failure is retried later, with growing delays, and not before', () => {
    let t = 0;
    const tracker = new PolicyNoticeTracker(() => t, { baseMs: 1000, maxMs: 60_000 });
    const n = notice(5, D(1));
    const failed = { ok: false as const, problems: [{ via: 'full' as const, problem: 'fetch-failed' as const, detail: 'unreachable' }] };
    const delays = [1, 2, 3, 4, 5].map(() => {
      const { retryInMs } = tracker.settle(n, failed);
      expect(tracker.decide(n, { version: 4, digest: null })).toMatchObject({ action: 'retry-later' });
      t += retryInMs!;
      expect(tracker.decide(n, { version: 4, digest: null })).toEqual({ action: 'fetch' });
      return retryInMs!;
    });
    expect(delays[4]!).toBeGreaterThan(delays[0]! * 4);
  });
  it('what the agent holds, or anything older, is ignored', () => {
    const tracker = new PolicyNoticeTracker(() => 0);
    expect(tracker.decide(notice(5, D(1)), { version: 5, digest: D(1) })).toEqual({ action: 'ignore', why: 'held' });
    expect(tracker.decide(notice(4, D(7)), { version: 5, digest: D(1) })).toEqual({ action: 'ignore', why: 'older-than-held' });
  });
});

describe('the notice is small whatever the policy size', () => {
  it('a notice for a policy at the size limit, with a delta offer, is far inside the WebSocket frame limit', async () => {
    const { LIMITS } = await import('../../src/shared/limits.js');
    const big = PolicyAvailableMessageSchema.parse({
      v: 1,
      type: 'policy.available',
      version: Number.MAX_SAFE_INTEGER,
      digest: D(1),
      size: POLICY_LIMITS.bundleBytes * 4,
      compressed: { encoding: 'gzip', size: POLICY_LIMITS.bundleBytes, sha256: D(2) },
      delta: { fromDigest: D(3), size: 1000, sha256: D(4) },
    });
    expect(JSON.stringify(big).length).toBeLessThan(600);
    expect(JSON.stringify(big).length).toBeLessThan(LIMITS.wsMaxPayloadBytes / 100);
  });
});
