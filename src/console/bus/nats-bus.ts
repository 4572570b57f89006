import { randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { connect, Events, type NatsConnection } from 'nats';
import { parseBusUrl, type NatsTarget } from './bus-url.js';
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
export async function openNatsBus(bus: string | NatsTarget, log: Logger, processId: string = randomUUID()): Promise<ConsoleBus> {
  const target = typeof bus === 'string' ? parseBusUrl(bus) : bus;
  if (typeof target === 'string') throw new Error(target);
  const nc = await connectOrExplain(target, processId);
  log.info('connected to the message bus', {
    server: target.shown,
    tls: target.tls !== undefined,
    signedIn: target.user !== undefined || target.token !== undefined,
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
    alone: false,
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

/**
 * The client checks the server's certificate against the CA given (else the system's). For a
 * server named by its IP address the client sends no name to check against (SNI may not be an
 * address), so the address from the URL is checked against the certificate's IP entries here.
 */
function tlsOptions(target: NatsTarget): NonNullable<Parameters<typeof connect>[0]>['tls'] {
  const host = target.server.slice(0, target.server.lastIndexOf(':')).replace(/^\[|\]$/g, '');
  if (!isIP(host)) return { ...target.tls };
  return { ...target.tls, checkServerIdentity: (_name: string, cert: PeerCertificate) => checkServerIdentity(host, cert) } as NonNullable<
    Parameters<typeof connect>[0]
  >['tls'];
}

/** Connects, or says in one sentence why not: refused credentials, a certificate not trusted, nobody listening. */
async function connectOrExplain(target: NatsTarget, processId: string): Promise<NatsConnection> {
  try {
    return await connect({
      servers: target.server,
      name: `vigil-console-${processId}`,
      user: target.user,
      pass: target.pass,
      token: target.token,
      tls: target.tls && tlsOptions(target),
      noEcho: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 1000,
      reconnectJitter: 500,
      pingInterval: 10_000,
    });
  } catch (error) {
    const code = (error as { code?: string }).code ?? '';
    const message = error instanceof Error ? error.message : String(error);
    const credentials = target.user !== undefined || target.token !== undefined;
    if (/AUTHORIZATION_VIOLATION|Authorization Violation/i.test(`${code} ${message}`)) {
      throw new Error(
        credentials
          ? `the message bus at ${target.shown} refused this console's credentials: check the user and password or token in --bus (or VIGIL_BUS_USER / VIGIL_BUS_PASSWORD / VIGIL_BUS_TOKEN)`
          : `the message bus at ${target.shown} requires credentials: give them in --bus (nats://user:password@host:port) or VIGIL_BUS_USER / VIGIL_BUS_PASSWORD / VIGIL_BUS_TOKEN`,
        { cause: error },
      );
    }
    if (/certificate|self.signed|SSL|TLS/i.test(message)) {
      throw new Error(
        `could not open a trusted TLS connection to the message bus at ${target.shown} (${message}): give the CA that signed its certificate with --bus-ca or VIGIL_BUS_CA`,
        {
          cause: error,
        },
      );
    }
    throw new Error(`could not connect to the message bus at ${target.shown}: ${message}`, { cause: error });
  }
}
