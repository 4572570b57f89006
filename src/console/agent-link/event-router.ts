import { AgentEventSchema, type AgentEvent } from '../../shared/events.js';
import type { Logger } from '../../shared/node/log.js';
import { summariseZodError } from '../../shared/policy.js';
import type { DeviceRecord } from '../store/store.js';
import type { AgentLinkStats } from './stats.js';
import { PROTOCOL_VERSION, type AgentMessage, type ConsoleMessageInput } from '../../shared/protocol.js';

export type EventType = AgentEvent['type'];
/** Frames the router hands to handlers: everything an authenticated agent sends but `auth` and `events`. */
export type FrameType = Exclude<AgentMessage['type'], 'auth' | 'events'>;
export type Frame<T extends AgentMessage['type']> = Extract<AgentMessage, { type: T }>;

/**
 * Event types that carry a pupil's own words. Each may be taken by exactly one consumer, which
 * must run before the ack; no consumer of "every event" (the events table, the feed) ever
 * receives them, whether or not their own consumer is registered.
 */
export const PRIVATE_EVENT_TYPES: ReadonlySet<EventType> = new Set<EventType>(['concern.reported']);

/** A frame's device and the way back to its connection. */
export interface FrameContext {
  deviceId: string;
  receivedAt: string;
  reply(message: ConsoleMessageInput): boolean;
}

export interface EventConsumer {
  /** For logs and for the refusal message when two consumers claim a private type. */
  name: string;
  /**
   * before-ack: durable; must succeed before the agent is told it may delete the events (a
   * failure means no ack, and the agent sends them again). after-ack: live views, the feed;
   * they see only events a before-ack consumer reported as new, and their failures are logged.
   */
  phase: 'before-ack' | 'after-ack';
  /** The event types taken; 'every-public' is every type except PRIVATE_EVENT_TYPES. */
  takes: readonly EventType[] | 'every-public';
  /** A before-ack consumer may return the events it stored for the first time. */
  handle(deviceId: string, events: AgentEvent[], receivedAt: string): Promise<AgentEvent[] | void>;
}

type FrameHandler<T extends FrameType> = (ctx: FrameContext, frame: Frame<T>) => Promise<void> | void;
/**
 * `device`: at a connection, the record the hub read to authenticate it (before it was marked
 * online), so that a reconnect storm does not read every device twice.
 */
type PresenceHandler = (deviceId: string, at: string, device?: DeviceRecord) => Promise<void>;

/**
 * The one place that decides who sees what an agent sends. The hub authenticates connections
 * and hands every frame here; consumers register the frame and event types they take, and for
 * events whether they run before or after the ack.
 */
export class EventRouter {
  private readonly consumers: EventConsumer[] = [];
  private readonly frames = new Map<FrameType, FrameHandler<FrameType>[]>();
  private readonly presence = { connected: [] as PresenceHandler[], disconnected: [] as PresenceHandler[] };
  constructor(
    private readonly stats: Pick<AgentLinkStats, 'unreadableEvents' | 'unroutedEvents'>,
    private readonly log: Logger,
  ) {}

  consume(consumer: EventConsumer): this {
    if (consumer.takes !== 'every-public') {
      for (const type of consumer.takes.filter((t) => PRIVATE_EVENT_TYPES.has(t))) {
        const holder = this.consumers.find((c) => c.takes !== 'every-public' && c.takes.includes(type));
        if (holder) throw new Error(`${consumer.name} may not take ${type}: it is private and ${holder.name} already takes it`);
        if (consumer.phase !== 'before-ack') throw new Error(`${consumer.name} must take the private ${type} before the ack`);
      }
    }
    this.consumers.push(consumer);
    return this;
  }

  onFrame<T extends FrameType>(type: T, handler: FrameHandler<T>): this {
    const list = this.frames.get(type) ?? [];
    // Stored by type; dispatch hands each handler only frames of the type it registered for.
    list.push(handler as unknown as FrameHandler<FrameType>);
    this.frames.set(type, list);
    return this;
  }

  onPresence(change: 'connected' | 'disconnected', handler: PresenceHandler): this {
    this.presence[change].push(handler);
    return this;
  }

  async connected(deviceId: string, at: string, device?: DeviceRecord): Promise<void> {
    for (const handler of this.presence.connected) await handler(deviceId, at, device);
  }

  async disconnected(deviceId: string, at: string): Promise<void> {
    for (const handler of this.presence.disconnected) await handler(deviceId, at);
  }

  /** Handles one frame of an authenticated device, in order with the device's other frames. */
  async dispatch(ctx: FrameContext, message: Exclude<AgentMessage, { type: 'auth' }>): Promise<void> {
    if (message.type === 'events') return this.events(ctx, message);
    for (const handler of this.frames.get(message.type) ?? []) await handler(ctx, message);
  }

  private async events(ctx: FrameContext, message: Frame<'events'>): Promise<void> {
    const { deviceId, receivedAt } = ctx;
    const readable: AgentEvent[] = [];
    for (const envelope of message.events) {
      const parsed = AgentEventSchema.safeParse(envelope);
      if (parsed.success) readable.push(parsed.data);
      else {
        this.stats.unreadableEvents++;
        this.log.warn('set aside an event this console cannot read', {
          deviceId,
          id: envelope.id,
          seq: envelope.seq,
          type: envelope.type,
          problem: summariseZodError(parsed.error),
        });
      }
    }
    const taken = new Set<AgentEvent>();
    const fresh = new Set<string>();
    for (const consumer of this.consumers.filter((c) => c.phase === 'before-ack')) {
      const mine = readable.filter((e) => takes(consumer, e.type));
      if (!mine.length) continue;
      mine.forEach((e) => taken.add(e));
      const stored = await consumer.handle(deviceId, mine, receivedAt);
      for (const e of stored ?? []) fresh.add(e.id);
    }
    const unrouted = readable.filter((e) => !taken.has(e) && !this.consumers.some((c) => takes(c, e.type)));
    if (unrouted.length) {
      this.stats.unroutedEvents += unrouted.length;
      this.log.error('no consumer takes these events; acknowledged and dropped', { deviceId, types: [...new Set(unrouted.map((e) => e.type))] });
    }
    // Ack everything now held, duplicates and set-aside events included: the agent may delete them.
    ctx.reply({ v: PROTOCOL_VERSION, type: 'events.ack', seqs: message.events.map((e) => e.seq) });
    const news = readable.filter((e) => fresh.has(e.id));
    for (const consumer of this.consumers.filter((c) => c.phase === 'after-ack')) {
      const mine = news.filter((e) => takes(consumer, e.type));
      if (!mine.length) continue;
      void Promise.resolve()
        .then(() => consumer.handle(deviceId, mine, receivedAt))
        .catch((error: unknown) => this.log.error('an after-ack event consumer failed', { consumer: consumer.name, deviceId, error }));
    }
  }
}

function takes(consumer: EventConsumer, type: EventType): boolean {
  if (consumer.takes === 'every-public') return !PRIVATE_EVENT_TYPES.has(type);
  return consumer.takes.includes(type);
}
