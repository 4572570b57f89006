import { randomUUID } from 'node:crypto';
import { connect, Events, type NatsConnection } from 'nats';
import type { Logger } from '../../shared/node/log.js';
import { decodeEnvelope, encodeEnvelope, newBusStats, type ConsoleBus } from './bus.js';

/**
 * The ConsoleBus over NATS core (nats-server from Debian's package; no JetStream: nothing
 * durable travels on the bus). `noEcho` keeps a process's own messages from coming back to it.
 * The client reconnects without end (every second, jittered) and buffers what is published
 * meanwhile; a request while the bus is down resolves null (reported not delivered).
 * Chosen over Redis by measurement and for request/reply with "no responders": see
 * docs/dependencies.md.
 */
export async function openNatsBus(url: string, log: Logger, processId: string = randomUUID()): Promise<ConsoleBus> {
  const nc: NatsConnection = await connect({
    servers: url,
    name: `vigil-console-${processId}`,
    noEcho: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 1000,
    reconnectJitter: 500,
    pingInterval: 10_000,
  });
  const stats = newBusStats();
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === Events.Disconnect) {
        stats.disconnects++;
        log.warn('lost the connection to the message bus; reconnecting', { server: String(status.data) });
      } else if (status.type === Events.Reconnect) {
        stats.reconnects++;
        log.info('reconnected to the message bus', { server: String(status.data) });
      }
    }
  })().catch(() => undefined);
  return {
    processId,
    stats,
    publish(subject, message) {
      const data = encodeEnvelope(stats, subject, processId, message);
      if (!nc.isClosed()) nc.publish(subject, data);
    },
    subscribe(subject, schema, handler) {
      const sub = nc.subscribe(subject, {
        callback: (error, msg) => {
          if (error) return void log.warn('message bus subscription error', { subject, error: error.message });
          const message = decodeEnvelope(stats, msg.data, schema);
          if (!message) return;
          void Promise.resolve()
            .then(() => handler(message.body, message.from))
            .then((answer) => {
              if (msg.reply && answer !== undefined) msg.respond(encodeEnvelope(stats, `${subject} reply`, processId, answer as object));
            })
            .catch((err: unknown) => log.error('error handling a message bus message', { subject, error: err }));
        },
      });
      return () => sub.unsubscribe();
    },
    async request(subject, message, replySchema, timeoutMs) {
      const data = encodeEnvelope(stats, subject, processId, message);
      try {
        const answer = await nc.request(subject, data, { timeout: timeoutMs });
        return decodeEnvelope(stats, answer.data, replySchema)?.body ?? null;
      } catch {
        // No responders (nobody subscribed), a timeout, or the bus is down: nobody answered.
        return null;
      }
    },
    async close() {
      if (nc.isClosed()) return;
      await nc.drain().catch(() => nc.close());
    },
  };
}
