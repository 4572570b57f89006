import { Backoff } from '../shared/backoff.js';
import { POLICY_LIMITS } from '../shared/policy-limits.js';
import type { PolicyAvailableMessage } from '../shared/policies/delivery.js';
import type { FetchOutcome, FetchProblem } from './policy-fetch.js';

/**
 * What the agent does with each `policy.available` notice, so that nothing it cannot take makes
 * it loop: a version it already holds is ignored; one it refused for good (too large, bad
 * signature, rollback, not what was announced) is reported once and not fetched again; a fetch
 * that failed for a passing reason (console unreachable, bytes cut short) is retried with
 * growing delays. The WebSocket is never closed over any of this.
 */

const TRANSIENT = new Set<FetchProblem['problem']>(['fetch-failed', 'compressed-digest-mismatch']);

export type NoticeDecision =
  | { action: 'fetch' }
  | { action: 'ignore'; why: 'held' | 'refused-before' | 'older-than-held' }
  | { action: 'refuse'; problem: FetchProblem }
  | { action: 'retry-later'; inMs: number };

interface Failure {
  backoff: Backoff;
  notBefore: number;
}

export class PolicyNoticeTracker {
  private readonly refused = new Set<string>();
  private readonly failing = new Map<string, Failure>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly backoff = { baseMs: 5_000, maxMs: 15 * 60_000 },
  ) {}

  decide(notice: PolicyAvailableMessage, held: { version: number | null; digest: string | null }): NoticeDecision {
    if (notice.digest === held.digest) return { action: 'ignore', why: 'held' };
    if (this.refused.has(notice.digest)) return { action: 'ignore', why: 'refused-before' };
    if (held.version !== null && notice.version < held.version) return { action: 'ignore', why: 'older-than-held' };
    if (notice.size > POLICY_LIMITS.bundleBytes) {
      this.refused.add(notice.digest);
      return {
        action: 'refuse',
        problem: {
          via: 'full',
          problem: 'too-large',
          detail: `version ${notice.version} is ${notice.size} bytes; this agent takes at most ${POLICY_LIMITS.bundleBytes} (the bundle size limit)`,
        },
      };
    }
    const failure = this.failing.get(notice.digest);
    if (failure && failure.notBefore > this.now()) return { action: 'retry-later', inMs: failure.notBefore - this.now() };
    return { action: 'fetch' };
  }

  /** Records how a fetch ended; answers when to try again (null: do not). */
  settle(notice: PolicyAvailableMessage, outcome: FetchOutcome): { retryInMs: number | null } {
    if (outcome.ok) {
      this.failing.delete(notice.digest);
      return { retryInMs: null };
    }
    const last = outcome.problems.at(-1)!;
    if (!TRANSIENT.has(last.problem)) {
      this.refused.add(notice.digest);
      this.failing.delete(notice.digest);
      return { retryInMs: null };
    }
    const failure = this.failing.get(notice.digest) ?? { backoff: new Backoff(this.backoff.baseMs, this.backoff.maxMs), notBefore: 0 };
    const delay = failure.backoff.next();
    failure.notBefore = this.now() + delay;
    this.failing.set(notice.digest, failure);
    return { retryInMs: delay };
  }
}
