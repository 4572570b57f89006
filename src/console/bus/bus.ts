import { randomUUID } from 'node:crypto';
import type { z } from 'zod';

/**
 * The console's message bus port: how console processes sharing one PostgreSQL database tell
 * each other what only memory holds (who holds which device, dashboard updates, commands,
 * policy and AUP notices, sign-in failures). One interface, one adapter per bus (nats-bus.ts)
 * and an in-process broker for the single-process default, so every code path is the same.
 *
 * Semantics, whatever the adapter:
 * - a published message reaches every OTHER process subscribed to its subject (never the
 *   publisher itself: a process handles its own work directly and tells the others);
 * - at most once: a message published while the bus is unreachable may be lost, so nothing
 *   durable travels on the bus (the database holds it; messages only say "look" or "do now");
 * - messages are JSON objects up to MAX_BUS_MESSAGE_BYTES; anything else received (not JSON,
 *   too large, not matching the subject's schema) is counted in `stats` and dropped;
 * - `request` asks whichever process answers on the subject and resolves null when none
 *   does (nobody subscribed, or no answer in time).
 */
export interface ConsoleBus {
  /** This process's id on the bus (new at every start). */
  readonly processId: string;
  readonly stats: BusStats;
  /**
   * True while no other process can be listening (the in-process bus of a lone console): a caller
   * may skip preparing what only other processes would read (the feed serialised every device
   * update of a rollout for a bus nobody was on).
   */
  readonly alone: boolean;
  /** Throws BusMessageTooLarge past MAX_BUS_MESSAGE_BYTES (the caller splits or sends less). */
  publish(subject: string, message: object): void;
  /**
   * Calls `handler` for every valid message on `subject` from another process; what it returns
   * (awaited) is the answer to a `request`. Unsubscribe with the returned function.
   */
  subscribe<T>(subject: string, schema: z.ZodType<T>, handler: (message: T, from: string) => unknown): () => void;
  request<T>(subject: string, message: object, replySchema: z.ZodType<T>, timeoutMs: number): Promise<T | null>;
  close(): Promise<void>;
}

export interface BusStats {
  published: number;
  received: number;
  /** Received messages dropped: not JSON, not an envelope, or not what the subject carries. */
  malformed: number;
  /** Messages refused for size (received and dropped, or refused at publish). */
  oversize: number;
  /** Times the connection to the bus server was lost, and regained. */
  disconnects: number;
  reconnects: number;
}

/** A bus message's upper bound: small notices, never documents (those are read from the database). */
export const MAX_BUS_MESSAGE_BYTES = 256 * 1024;

export class BusMessageTooLarge extends Error {
  constructor(subject: string, bytes: number) {
    super(`bus message on ${subject} is ${bytes} bytes, over the ${MAX_BUS_MESSAGE_BYTES}-byte limit`);
  }
}

export const newBusStats = (): BusStats => ({ published: 0, received: 0, malformed: 0, oversize: 0, disconnects: 0, reconnects: 0 });

/** Subjects are dot-separated tokens; a device id becomes one token only if it is a plain id. */
export function deviceSubject(prefix: string, deviceId: string): string | null {
  return /^[A-Za-z0-9_-]{1,128}$/.test(deviceId) ? `${prefix}.${deviceId}` : null;
}

/** The wire form shared by every adapter: `{"from": processId, "body": {...}}` as UTF-8 JSON. */
export function encodeEnvelope(stats: BusStats, subject: string, from: string, body: object): Uint8Array {
  const bytes = Buffer.from(JSON.stringify({ from, body }), 'utf8');
  if (bytes.length > MAX_BUS_MESSAGE_BYTES) {
    stats.oversize++;
    throw new BusMessageTooLarge(subject, bytes.length);
  }
  stats.published++;
  return bytes;
}

/** Checks a received message in full; null (counted) for anything that is not a valid message for the subject. */
export function decodeEnvelope<T>(stats: BusStats, data: Uint8Array, schema: z.ZodType<T>): { from: string; body: T } | null {
  if (data.byteLength > MAX_BUS_MESSAGE_BYTES) {
    stats.oversize++;
    return null;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8'));
  } catch {
    stats.malformed++;
    return null;
  }
  const envelope = parsed as { from?: unknown; body?: unknown } | null;
  if (typeof envelope !== 'object' || envelope === null || typeof envelope.from !== 'string' || envelope.from.length > 200) {
    stats.malformed++;
    return null;
  }
  const body = schema.safeParse(envelope.body);
  if (!body.success) {
    stats.malformed++;
    return null;
  }
  stats.received++;
  return { from: envelope.from, body: body.data };
}

interface Endpoint {
  processId: string;
  subscriptions: Map<string, Set<(data: Uint8Array, reply: ((data: Uint8Array) => void) | null) => void>>;
}

/**
 * The bus inside one Node process: the single-process default (one endpoint, so nothing is
 * ever delivered and no request is answered, exactly as a lone process on a real bus), and
 * unit tests (several endpoints standing in for several processes). Messages go through the
 * same encoding and checks as on a real bus, delivered on a later tick.
 */
export class InProcessBroker {
  private readonly endpoints = new Set<Endpoint>();

  connect(processId: string = randomUUID()): ConsoleBus {
    const endpoint: Endpoint = { processId, subscriptions: new Map() };
    this.endpoints.add(endpoint);
    const stats = newBusStats();
    const others = (subject: string) => [...this.endpoints].filter((e) => e !== endpoint).flatMap((e) => [...(e.subscriptions.get(subject) ?? [])]);
    const endpoints = this.endpoints;
    return {
      processId,
      stats,
      get alone() {
        return endpoints.size <= 1;
      },
      publish: (subject, message) => {
        const data = encodeEnvelope(stats, subject, processId, message);
        for (const deliver of others(subject)) setImmediate(() => deliver(data, null));
      },
      subscribe: (subject, schema, handler) => {
        let set = endpoint.subscriptions.get(subject);
        if (!set) endpoint.subscriptions.set(subject, (set = new Set()));
        const deliver = (data: Uint8Array, reply: ((data: Uint8Array) => void) | null) => {
          const message = decodeEnvelope(stats, data, schema);
          if (!message) return;
          void Promise.resolve()
            .then(() => handler(message.body, message.from))
            .then((answer) => reply && answer !== undefined && reply(encodeEnvelope(stats, `${subject} reply`, processId, answer as object)))
            .catch(() => undefined);
        };
        set.add(deliver);
        return () => void set.delete(deliver);
      },
      request: (subject, message, replySchema, timeoutMs) => {
        const [responder] = others(subject);
        if (!responder) return Promise.resolve(null);
        const data = encodeEnvelope(stats, subject, processId, message);
        return new Promise((resolve) => {
          const timer = setTimeout(() => resolve(null), timeoutMs);
          setImmediate(() =>
            responder(data, (answer) => {
              clearTimeout(timer);
              resolve(decodeEnvelope(stats, answer, replySchema)?.body ?? null);
            }),
          );
        });
      },
      close: async () => void this.endpoints.delete(endpoint),
    };
  }

  /** Hands raw bytes to every subscriber of `subject` (tests: what a broken or hostile publisher would send). */
  inject(subject: string, data: Uint8Array): void {
    for (const e of this.endpoints) for (const deliver of e.subscriptions.get(subject) ?? []) deliver(data, null);
  }
}
