import type { Logger } from '../../shared/node/log.js';
import { policyDigest } from '../../shared/node/policy-verify.js';
import type { PolicyAvailableMessage } from '../../shared/policies/delivery.js';
import type { Component } from '../lifecycle.js';
import { fetchAnnouncedPolicy, type FetchOutcome, type FetchProblem, type PolicyFetchDeps } from '../policy-fetch.js';
import type { PolicyNoticeTracker } from '../policy-notices.js';
import type { PolicyStore } from '../policy-store.js';
import type { EventSink } from './event-pump.js';
import type { PolicyApplier } from './policy-applier.js';

/**
 * The agent's answer to `policy.available`: the tracker decides (held, refused before, too
 * large, wait), the bundle or delta is fetched over HTTP(S) with the device key and checked byte
 * by byte, and a bundle that passes goes to the same apply path as a `policy` frame (signature
 * and rollback checked again by the store). Every problem — a delta that does not reproduce the
 * signed document included — is a `policy.rejected` event and a log line; the link is never
 * closed over it. Notices are handled one at a time: one arriving during a fetch waits, and only
 * the latest waiting one is handled.
 */
export class PolicyNoticesHandler implements Component {
  readonly name = 'policy-notices';
  private waiting: PolicyAvailableMessage | null = null;
  private running = false;
  private retry: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly deps: {
      tracker: PolicyNoticeTracker;
      store: PolicyStore;
      applier: Pick<PolicyApplier, 'offer'>;
      fetch: PolicyFetchDeps;
      trustedKey: string;
      sink: EventSink;
      log: Logger;
    },
  ) {}

  start(): void {
    this.stopped = false;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retry);
  }

  /** A `policy.available` message from the console. */
  notice(notice: PolicyAvailableMessage): Promise<void> {
    this.waiting = notice;
    return this.drain();
  }

  private async drain(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.waiting && !this.stopped) {
        const notice = this.waiting;
        this.waiting = null;
        await this.handle(notice);
      }
    } finally {
      this.running = false;
    }
  }

  private async handle(notice: PolicyAvailableMessage): Promise<void> {
    const { tracker, store, log } = this.deps;
    const held = store.bundle;
    const decision = tracker.decide(notice, { version: store.version, digest: held ? policyDigest(held.payload) : null });
    switch (decision.action) {
      case 'ignore':
        log.debug('policy notice needs nothing', { version: notice.version, why: decision.why });
        return;
      case 'refuse':
        this.report(notice, decision.problem);
        return;
      case 'retry-later':
        this.later(notice, decision.inMs);
        return;
      case 'fetch':
        break;
    }
    let outcome: FetchOutcome;
    try {
      outcome = await fetchAnnouncedPolicy(notice, held, { trustedKey: this.deps.trustedKey, heldVersion: store.version }, this.deps.fetch);
    } catch (error) {
      outcome = { ok: false, problems: [{ via: 'full', problem: 'fetch-failed', detail: `fetch failed: ${(error as Error).message}` }] };
    }
    for (const problem of outcome.problems) this.report(notice, problem);
    const { retryInMs } = tracker.settle(notice, outcome);
    if (outcome.ok) {
      log.info('fetched announced policy', { version: notice.version, via: outcome.via });
      this.deps.applier.offer(outcome.bundle);
    } else if (retryInMs !== null) this.later(notice, retryInMs);
  }

  private later(notice: PolicyAvailableMessage, inMs: number): void {
    clearTimeout(this.retry);
    this.retry = setTimeout(() => {
      // A newer notice that arrived meanwhile wins.
      this.waiting ??= notice;
      void this.drain();
    }, inMs);
  }

  private report(notice: PolicyAvailableMessage, problem: FetchProblem): void {
    const keptVersion = this.deps.store.version;
    this.deps.log.warn('did not take an announced policy', {
      version: notice.version,
      via: problem.via,
      reason: problem.problem,
      detail: problem.detail,
      keptVersion,
    });
    this.deps.sink.emit({
      type: 'policy.rejected',
      data: { version: notice.version, reason: problem.problem, detail: `${problem.via}: ${problem.detail}`.slice(0, 512), keptVersion },
    });
  }
}
