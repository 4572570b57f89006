import type { Logger } from '../shared/node/log.js';
import type { PolicyBundle } from '../shared/policy.js';

export type PolicyListener = (bundle: PolicyBundle) => void;

/**
 * Policy changes as a typed subscription: enforcers subscribe, the policy applier publishes each
 * bundle it applies (and the held one at start). One listener that throws does not keep the
 * bundle from the others.
 */
export class PolicyBus {
  private readonly listeners = new Set<PolicyListener>();

  constructor(private readonly log: Logger) {}

  /** Returns the unsubscribe function. */
  subscribe(listener: PolicyListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  publish(bundle: PolicyBundle): void {
    for (const listener of this.listeners) {
      try {
        listener(bundle);
      } catch (error) {
        this.log.error('policy listener failed', { error });
      }
    }
  }
}
