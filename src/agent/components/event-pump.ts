import type { AgentEvent, NewAgentEvent } from '../../shared/events.js';
import { agentPace } from '../../shared/frame-budgets.js';
import { LIMITS } from '../../shared/limits.js';
import { TokenBucket } from '../../shared/token-bucket.js';
import { PROTOCOL_VERSION } from '../../shared/protocol.js';
import type { Component } from '../lifecycle.js';
import type { AgentLink } from '../link.js';
import type { Logger } from '../../shared/node/log.js';
import type { Outbox, OutboxHealth } from '../outbox.js';

const BATCHES_IN_FLIGHT = 4;
const ACK_TIMEOUT_MS = 30_000;
/** Drops are logged when they happen, at most once per this interval (with the count since the last line). */
const DROP_LOG_INTERVAL_MS = 5_000;

/** Where every part of the agent reports: durably queued, then sent when the link is up. */
export interface EventSink {
  emit(event: NewAgentEvent): void;
}

/**
 * The outbox pump: queues events durably, sends them in size-bounded batches with a few in
 * flight, drops what the console acknowledges and re-sends whatever is never acked. Owns the
 * outbox (closed on stop, the group's last). Others hear each event through `onEvent`.
 * Events the outbox had to drop are never silent: each drop is logged, and the outbox's drop
 * report goes out in a frame of its own before any batch of the backlog, whatever its size.
 * Frames go at the pace the console's frame budget allows (shared/frame-budgets.ts): a backlog
 * sent as fast as acks came back once outran it, and each dropped batch waited out the ack timeout.
 */
export class EventPump implements Component, EventSink {
  readonly name = 'event-pump';
  private readonly inFlight = new Map<number, number>(); // seq -> sent at (the backlog)
  private reportInFlight: { seq: number; sentAt: number } | null = null;
  private readonly listeners = new Set<(event: NewAgentEvent) => void>();
  private readonly dropListeners = new Set<(health: OutboxHealth) => void>();
  private timer: NodeJS.Timeout | undefined;
  private droppedLogged: number;
  private dropLoggedAt = -Infinity;

  constructor(
    private readonly outbox: Outbox,
    private readonly link: Pick<AgentLink, 'canSend' | 'send'>,
    private readonly log: Logger,
    private readonly pollMs = 250,
    private readonly pace = pacedBy(agentPace('events')),
  ) {
    this.droppedLogged = outbox.health().dropped;
  }

  get pending(): number {
    return this.outbox.count();
  }

  /** Queue length and drops so far (device status). */
  health(): OutboxHealth {
    return this.outbox.health();
  }

  /** Called after drops were logged (the status is re-sent); returns the unsubscribe function. */
  onDrops(listener: (health: OutboxHealth) => void): () => void {
    this.dropListeners.add(listener);
    return () => this.dropListeners.delete(listener);
  }

  /** Queues an event durably; it is sent when the link is up. */
  emit(event: NewAgentEvent): void {
    this.outbox.append([event]);
    for (const listener of this.listeners) listener(event);
    this.noticeDrops();
    this.pump();
  }

  /** Every event emitted from now on (the tray turns some into notices); returns the unsubscribe function. */
  onEvent(listener: (event: NewAgentEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  start(): void {
    // Events written by other processes (the CLI) are picked up by polling.
    this.timer = setInterval(() => (this.noticeDrops(), this.pump()), this.pollMs);
  }

  stop(): void {
    clearInterval(this.timer);
    this.outbox.close();
  }

  /** A new connection: nothing is in flight on it yet. */
  restart(): void {
    this.linkDown();
    this.pump();
  }

  linkDown(): void {
    this.inFlight.clear();
    this.reportInFlight = null;
  }

  acknowledge(seqs: number[]): void {
    const report = this.reportInFlight;
    const known = seqs.filter((seq) => this.inFlight.has(seq) || seq === report?.seq);
    this.outbox.acknowledge(known);
    known.forEach((seq) => this.inFlight.delete(seq));
    if (report && known.includes(report.seq)) this.reportInFlight = null;
    this.pump();
  }

  /** Logs drops (this process's or the CLI's) since the last line, at most every few seconds. */
  noticeDrops(): void {
    const now = Date.now();
    if (now - this.dropLoggedAt < DROP_LOG_INTERVAL_MS) return;
    const health = this.outbox.health();
    if (health.dropped <= this.droppedLogged) return;
    this.log.warn('outbox dropped events that were never delivered; the console will be told', {
      dropped: health.dropped - this.droppedLogged,
      droppedTotal: health.dropped,
      pending: health.pending,
      lastDroppedAt: health.lastDroppedAt,
    });
    this.droppedLogged = health.dropped;
    this.dropLoggedAt = now;
    for (const listener of this.dropListeners) listener(health);
  }

  /** Sends pending events, keeping a few batches in flight; re-sends whatever is never acked. */
  pump(): void {
    if (!this.link.canSend) return;
    const now = Date.now();
    const stale = (sentAt: number) => now - sentAt > ACK_TIMEOUT_MS;
    if (this.reportInFlight && stale(this.reportInFlight.sentAt)) this.reportInFlight = null;
    for (const [, sentAt] of this.inFlight) {
      if (stale(sentAt)) {
        this.inFlight.clear(); // start again from the oldest unacked; the console drops duplicates
        break;
      }
    }
    // The drop report first, in a frame of its own: it never waits behind the backlog.
    if (!this.reportInFlight) {
      const report = this.outbox.dropReport();
      if (report) {
        if (!this.pace.take()) return;
        if (!this.link.send({ v: PROTOCOL_VERSION, type: 'events', events: [report] })) return;
        this.reportInFlight = { seq: report.seq, sentAt: now };
      }
    }
    while (this.inFlight.size < BATCHES_IN_FLIGHT * LIMITS.eventsPerBatch) {
      const after = this.inFlight.size ? Math.max(...this.inFlight.keys()) : 0;
      const candidates: AgentEvent[] = this.outbox.pending(LIMITS.eventsPerBatch, after);
      if (!candidates.length || !this.pace.take()) return;
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

const pacedBy = ({ burst, refillMs }: { burst: number; refillMs: number }) => new TokenBucket(burst, refillMs);
