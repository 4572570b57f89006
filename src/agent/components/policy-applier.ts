import type { Logger } from '../../shared/node/log.js';
import { PROTOCOL_VERSION } from '../../shared/protocol.js';
import type { Component } from '../lifecycle.js';
import type { AgentLink } from '../link.js';
import type { PolicyBus } from '../policy-bus.js';
import type { PolicyStore } from '../policy-store.js';
import type { EventSink } from './event-pump.js';

const EXPIRY_CHECK_MS = 60_000;

/**
 * The console's policy bundles: offered to the store (signature, rollback), applied ones
 * published on the bus to every enforcer, acknowledged to the console. At start the held bundle
 * is published once; an expired one is kept and reported once.
 */
export class PolicyApplier implements Component {
  readonly name = 'policy-applier';
  private timer: NodeJS.Timeout | undefined;
  private reportedExpiry: number | null = null;

  constructor(
    private readonly deps: {
      store: PolicyStore;
      bus: PolicyBus;
      sink: EventSink;
      link: Pick<AgentLink, 'send' | 'setHeartbeatSeconds'>;
      log: Logger;
    },
  ) {}

  /** A policy file that could not be read at start is reported (the agent runs on without it). */
  reportLoadProblem(): void {
    const problem = this.deps.store.loadProblem;
    if (!problem) return;
    this.deps.log.warn(problem);
    this.deps.sink.emit({ type: 'console.protocol-error', data: { detail: problem } });
  }

  start(): void {
    const held = this.deps.store.bundle;
    if (held) this.deps.bus.publish(held);
    this.timer = setInterval(() => this.checkExpiry(), EXPIRY_CHECK_MS);
    this.checkExpiry();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** A `policy` message from the console. */
  offer(candidate: unknown): void {
    const { store, bus, sink, link, log } = this.deps;
    const result = store.offer(candidate);
    if (result.outcome === 'rejected') {
      const { rejection, kept } = result;
      log.warn('rejected policy bundle', { reason: rejection.reason, detail: rejection.detail, keptVersion: kept?.payload.version ?? null });
      sink.emit({
        type: 'policy.rejected',
        data: { version: rejection.version ?? null, reason: rejection.reason, detail: rejection.detail, keptVersion: kept?.payload.version ?? null },
      });
      return;
    }
    const version = result.bundle.payload.version;
    if (result.outcome === 'applied') {
      log.info('applied policy', { version, name: result.bundle.payload.policy.name });
      sink.emit({ type: 'policy.applied', data: { version } });
      bus.publish(result.bundle);
      link.setHeartbeatSeconds(result.bundle.payload.policy.agent.heartbeatSeconds);
    }
    link.send({ v: PROTOCOL_VERSION, type: 'policy.ack', version });
  }

  /** The held bundle may expire while the console is unreachable: keep it, and say so once. */
  private checkExpiry(): void {
    const bundle = this.deps.store.bundle;
    if (!bundle || Date.parse(bundle.payload.expiresAt) > Date.now() || this.reportedExpiry === bundle.payload.version) return;
    this.reportedExpiry = bundle.payload.version;
    this.deps.log.warn('the policy this device enforces has expired; keeping it until the console sends a new one', {
      version: bundle.payload.version,
      expiredAt: bundle.payload.expiresAt,
    });
    this.deps.sink.emit({ type: 'policy.expired', data: { version: bundle.payload.version, expiredAt: bundle.payload.expiresAt } });
  }
}
