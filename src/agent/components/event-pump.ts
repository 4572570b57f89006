import type { AgentEvent, NewAgentEvent } from '../../shared/events.js';
import { LIMITS } from '../../shared/limits.js';
import { PROTOCOL_VERSION } from '../../shared/protocol.js';
import type { Component } from '../lifecycle.js';
import type { AgentLink } from '../link.js';
import type { Outbox } from '../outbox.js';

const BATCHES_IN_FLIGHT = 4;
const ACK_TIMEOUT_MS = 30_000;

/** Where every part of the agent reports: durably queued, then sent when the link is up. */
export interface EventSink {
  emit(event: NewAgentEvent): void;
}

/**
 * The outbox pump: queues events durably, sends them in size-bounded batches with a few in
 * flight, drops what the console acknowledges and re-sends whatever is never acked. Owns the
 * outbox (closed on stop, the group's last). Others hear each event through `onEvent`.
 */
export class EventPump implements Component, EventSink {
  readonly name = 'event-pump';
  private readonly inFlight = new Map<number, number>(); // seq -> sent at
  private readonly listeners = new Set<(event: NewAgentEvent) => void>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly outbox: Outbox,
    private readonly link: Pick<AgentLink, 'canSend' | 'send'>,
    private readonly pollMs = 250,
  ) {}

  get pending(): number {
    return this.outbox.count();
  }

  /** Queues an event durably; it is sent when the link is up. */
  emit(event: NewAgentEvent): void {
    this.outbox.append([event]);
    for (const listener of this.listeners) listener(event);
    this.pump();
  }

  /** Every event emitted from now on (the tray turns some into notices); returns the unsubscribe function. */
  onEvent(listener: (event: NewAgentEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  start(): void {
    // Events written by other processes (the CLI) are picked up by polling.
    this.timer = setInterval(() => this.pump(), this.pollMs);
  }

  stop(): void {
    clearInterval(this.timer);
    this.outbox.close();
  }

  /** A new connection: nothing is in flight on it yet. */
  restart(): void {
    this.inFlight.clear();
    this.pump();
  }

  linkDown(): void {
    this.inFlight.clear();
  }

  acknowledge(seqs: number[]): void {
    const known = seqs.filter((seq) => this.inFlight.has(seq));
    this.outbox.acknowledge(known);
    known.forEach((seq) => this.inFlight.delete(seq));
    this.pump();
  }

  /** Sends pending events, keeping a few batches in flight; re-sends whatever is never acked. */
  pump(): void {
    if (!this.link.canSend) return;
    const now = Date.now();
    for (const [, sentAt] of this.inFlight) {
      if (now - sentAt > ACK_TIMEOUT_MS) {
        this.inFlight.clear(); // start again from the oldest unacked; the console drops duplicates
        break;
      }
    }
    while (this.inFlight.size < BATCHES_IN_FLIGHT * LIMITS.eventsPerBatch) {
      const after = this.inFlight.size ? Math.max(...this.inFlight.keys()) : 0;
      const candidates: AgentEvent[] = this.outbox.pending(LIMITS.eventsPerBatch, after);
      if (!candidates.length) return;
      // Cut the batch by encoded size too, so it always fits in one frame.
      const batch: AgentEvent[] = [];
      let bytes = 0;
      for (const event of candidates) {
        const size = Buffer.byteLength(JSON.stringify(event));
        if (batch.length && bytes + size > LIMITS.eventBatchBytes) break;
        batch.push(event);
        bytes += size;
      }
      if (!this.link.send({ v: PROTOCOL_VERSION, type: 'events', events: batch })) return;
      batch.forEach((e) => this.inFlight.set(e.seq, now));
    }
  }
}
