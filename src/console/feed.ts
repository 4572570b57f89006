import type { ServerResponse } from 'node:http';
import { z } from 'zod';
import { FeedMessageSchema, type DeviceSummary, type FeedMessage } from '../shared/api.js';
import { InProcessBroker, MAX_BUS_MESSAGE_BYTES, type ConsoleBus } from './bus/bus.js';
import type { Principal } from './http/router.js';

const MAX_STREAMS_PER_USER = 10;
const MAX_STREAMS = 500;
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
/** Other console processes' updates arrive on this subject, in batches split to fit a bus message. */
const FEED_SUBJECT = 'vigil.feed';
const FeedBatch = z.strictObject({ messages: z.array(FeedMessageSchema).min(1) });
const BUS_BATCH_BYTES = MAX_BUS_MESSAGE_BYTES / 2;

interface Subscriber {
  res: ServerResponse;
  principal: Principal;
}

/**
 * The dashboard's live feed (server-sent events). Device updates are coalesced: within one
 * flush interval only the latest state of each device is sent, so a busy fleet cannot flood
 * the browser. Each flush also goes to the other console processes on the bus, and theirs come
 * here: a dashboard on any process sees every process's devices. A process listens to the
 * others' updates only while a dashboard is connected to it: checking every fleet update
 * against its schema costs each process CPU it needs most in a reconnect storm.
 */
export class FeedHub {
  private readonly subscribers = new Set<Subscriber>();
  private readonly pendingDevices = new Map<string, DeviceSummary>();
  private readonly pendingOther: FeedMessage[] = [];
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly keepAlive: NodeJS.Timeout;
  /** Set while this process has subscribers: other processes' updates are taken from the bus. */
  private unsubscribe: (() => void) | null = null;

  constructor(
    private readonly flushIntervalMs = 200,
    private readonly isStillValid: (p: Principal) => Promise<boolean> = async () => true,
    private readonly bus: ConsoleBus = new InProcessBroker().connect(),
  ) {
    this.keepAlive = setInterval(() => void this.ping(), 25_000);
    this.keepAlive.unref();
  }

  /**
   * Opens a stream, or returns false when the caller already has too many open (the dashboard
   * needs one per browser tab) or the console is at its limit.
   */
  subscribe(res: ServerResponse, principal: Principal): boolean {
    const mine = [...this.subscribers].filter((s) => s.principal.username === principal.username).length;
    if (mine >= MAX_STREAMS_PER_USER || this.subscribers.size >= MAX_STREAMS) return false;
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.write(': vigil feed\nretry: 2000\n\n');
    const sub = { res, principal };
    this.subscribers.add(sub);
    this.unsubscribe ??= this.bus.subscribe(FEED_SUBJECT, FeedBatch, ({ messages }) => this.send(messages));
    res.on('close', () => this.drop(sub));
    return true;
  }

  private drop(sub: Subscriber): void {
    this.subscribers.delete(sub);
    if (this.subscribers.size > 0 || !this.unsubscribe) return;
    this.unsubscribe();
    this.unsubscribe = null;
  }

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  publishDevice(device: DeviceSummary): void {
    this.pendingDevices.set(device.id, device);
    this.schedule();
  }

  publish(message: FeedMessage): void {
    this.pendingOther.push(message);
    this.schedule();
  }

  close(): void {
    this.closed = true;
    clearInterval(this.keepAlive);
    if (this.timer) clearTimeout(this.timer);
    for (const sub of [...this.subscribers]) (sub.res.end(), this.drop(sub));
  }

  private schedule(): void {
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => this.flush(), this.flushIntervalMs);
  }

  private flush(): void {
    this.timer = null;
    const messages: FeedMessage[] = [
      ...this.pendingOther.splice(0),
      ...[...this.pendingDevices.values()].map((device) => ({ kind: 'device' as const, device })),
    ];
    this.pendingDevices.clear();
    if (!messages.length) return;
    if (!this.bus.alone) this.toOtherProcesses(messages);
    this.send(messages);
  }

  private send(messages: FeedMessage[]): void {
    if (!this.subscribers.size) return;
    const frame = `event: batch\ndata: ${JSON.stringify(messages)}\n\n`;
    for (const sub of this.subscribers) {
      // A browser that stops reading must not make the console buffer without end.
      if (sub.res.writableLength > MAX_BUFFERED_BYTES) {
        sub.res.destroy();
        this.drop(sub);
        continue;
      }
      sub.res.write(frame);
    }
  }

  /** One bus message per slice that fits (a device summary is about a kilobyte). */
  private toOtherProcesses(messages: FeedMessage[]): void {
    let slice: FeedMessage[] = [];
    let bytes = 0;
    for (const message of messages) {
      const size = JSON.stringify(message).length;
      if (slice.length && bytes + size > BUS_BATCH_BYTES) {
        this.bus.publish(FEED_SUBJECT, { messages: slice });
        ((slice = []), (bytes = 0));
      }
      // Summaries are bounded far below this; one that is not stays on this process, counted.
      if (size > BUS_BATCH_BYTES) {
        this.bus.stats.oversize++;
        continue;
      }
      slice.push(message);
      bytes += size;
    }
    if (slice.length) this.bus.publish(FEED_SUBJECT, { messages: slice });
  }

  /** Keeps proxies from closing idle streams and ends streams whose session has expired. */
  private async ping(): Promise<void> {
    for (const sub of [...this.subscribers]) {
      if (!(await this.isStillValid(sub.principal))) {
        sub.res.write('event: session-expired\ndata: {}\n\n');
        sub.res.end();
        this.drop(sub);
      } else {
        sub.res.write(': keep-alive\n\n');
      }
    }
  }
}
