import { EventEmitter } from 'node:events';
import type { KeyObject } from 'node:crypto';
import WebSocket from 'ws';
import { Backoff } from '../shared/backoff.js';
import { keyId, randomToken } from '../shared/node/crypto.js';
import { LIMITS } from '../shared/limits.js';
import type { Logger } from '../shared/node/log.js';
import { deviceAuthPayload, parseConsoleMessage, PROTOCOL_VERSION, type AgentMessageInput, type ConsoleMessage } from '../shared/protocol.js';
import { signPayload, verifyPayload } from '../shared/node/signing.js';

/** A console that has not finished authenticating within this time is given up on. */
const AUTH_TIMEOUT_MS = 15_000;
/** Above this much unsent data the link reports itself congested and callers hold back. */
const MAX_BUFFERED_BYTES = 1024 * 1024;

export interface LinkOptions {
  /** ws:// or wss:// URL of the console's agent endpoint. */
  url: string;
  deviceId: string;
  privateKey: KeyObject;
  publicKey: string;
  /** The console key pinned at enrollment: the link refuses any console that can't prove it. */
  consolePublicKey: string;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  log: Logger;
}

export interface LinkEvents {
  ready: [heartbeatSeconds: number];
  message: [message: Exclude<ConsoleMessage, { type: 'challenge' | 'auth.ok' }>];
  down: [reason: string];
}

/**
 * One authenticated WebSocket to the console, kept up for as long as the link runs:
 * challenge-response on every connection (device signs the console's nonce; the console
 * signs it back, so both ends are proven), heartbeats, and reconnects with jittered
 * exponential backoff. Frames from the console are parsed with the shared schemas and a bad
 * one is logged and ignored — nothing the console sends can crash the agent.
 */
export class AgentLink extends EventEmitter<LinkEvents> {
  private ws: WebSocket | null = null;
  private authenticated = false;
  private stopped = true;
  private heartbeat: NodeJS.Timeout | null = null;
  /** Ends a connection that never completes authentication or on which the console falls silent. */
  private watchdog: NodeJS.Timeout | null = null;
  private lastHeard = 0;
  private silenceLimitMs = AUTH_TIMEOUT_MS;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private readonly backoff: Backoff;
  /** Set when the console asked us to stay away (rate limit / revoked). */
  private minimumDelayMs = 0;
  badFrames = 0;

  constructor(private readonly options: LinkOptions) {
    super();
    this.backoff = new Backoff(options.backoffBaseMs ?? 500, options.backoffMaxMs ?? 60_000);
  }

  get isReady(): boolean {
    return this.authenticated && this.ws?.readyState === WebSocket.OPEN;
  }

  /** Ready and not backed up: a dead path with a full send buffer must not grow it further. */
  get canSend(): boolean {
    return this.isReady && this.ws!.bufferedAmount < MAX_BUFFERED_BYTES;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.teardown('stopped');
  }

  /** Sends a message if the link is authenticated; returns false otherwise (caller retries later). */
  send(message: AgentMessageInput): boolean {
    if (!this.isReady) return false;
    this.ws!.send(JSON.stringify(message));
    return true;
  }

  private connect(): void {
    const { log } = this.options;
    const ws = new WebSocket(this.options.url, { maxPayload: LIMITS.wsMaxPayloadBytes, perMessageDeflate: false, handshakeTimeout: 10_000 });
    this.ws = ws;
    this.authenticated = false;
    this.lastHeard = Date.now();
    this.silenceLimitMs = AUTH_TIMEOUT_MS;
    if (this.watchdog) clearTimeout(this.watchdog);
    // Wakes when the silence limit would be reached, not every second: what it hears meanwhile
    // moves the deadline on, read when it wakes (one wake-up per ping period while all is well).
    const watch = (inMs: number) => {
      this.watchdog = setTimeout(() => {
        if (this.ws !== ws) return;
        const left = this.lastHeard + this.silenceLimitMs - Date.now();
        if (left >= 0) return watch(left + 1);
        log.warn(this.authenticated ? 'console fell silent; dropping the connection' : 'console did not complete authentication in time');
        ws.terminate();
      }, inMs);
      this.watchdog.unref();
    };
    watch(this.silenceLimitMs + 1);
    let clientNonce: string | null = null;
    let challengeNonce: string | null = null;

    const onMessage = (data: WebSocket.RawData, isBinary: boolean): void => {
      if (isBinary) return this.badFrame('binary frame from console');
      const parsed = parseConsoleMessage(Buffer.isBuffer(data) ? data : Buffer.concat(data as Buffer[]));
      if (!parsed.ok) return this.badFrame(parsed.message);
      const message = parsed.message;
      if (!this.authenticated) {
        if (message.type === 'challenge' && !challengeNonce) {
          if (message.consoleKeyId !== keyId(this.options.consolePublicKey)) {
            log.error('console presented a different signing key than the one pinned at enrollment; refusing', {
              expected: keyId(this.options.consolePublicKey),
              got: message.consoleKeyId,
            });
            return ws.close(4001, 'console key mismatch');
          }
          challengeNonce = message.nonce;
          clientNonce = randomToken(32);
          const payload = deviceAuthPayload(this.options.deviceId, challengeNonce, clientNonce);
          const signature = signPayload('device-auth', payload, this.options.privateKey, this.options.publicKey);
          ws.send(
            JSON.stringify({
              v: PROTOCOL_VERSION,
              type: 'auth',
              deviceId: this.options.deviceId,
              nonce: challengeNonce,
              clientNonce,
              signature: signature.value,
            }),
          );
          return;
        }
        if (message.type === 'auth.ok' && challengeNonce && clientNonce) {
          const payload = deviceAuthPayload(this.options.deviceId, challengeNonce, clientNonce);
          const sig = { alg: 'ed25519' as const, keyId: keyId(this.options.consolePublicKey), value: message.signature };
          if (message.deviceId !== this.options.deviceId || !verifyPayload('console-auth', payload, sig, this.options.consolePublicKey)) {
            log.error('console could not prove its identity; refusing the connection');
            return ws.close(4001, 'console auth failed');
          }
          this.authenticated = true;
          // The console pings every pingSeconds; several missed pings in a row mean the path is dead.
          this.silenceLimitMs = message.pingSeconds * 2500 + 5000;
          this.backoff.reset();
          this.minimumDelayMs = 0;
          this.startHeartbeat(message.heartbeatSeconds);
          log.info('connected to console', { url: this.options.url });
          this.emit('ready', message.heartbeatSeconds);
          return;
        }
        if (message.type === 'auth.error') {
          log.warn('console refused authentication', { code: message.code, message: message.message });
          if (message.code === 'rate-limited' || message.code === 'revoked') this.minimumDelayMs = this.options.backoffMaxMs ?? 60_000;
          return;
        }
        if (message.type === 'error') {
          log.warn('console reported an error before authentication', { code: message.code, message: message.message });
          return;
        }
        return this.badFrame(`unexpected ${message.type} before authentication`);
      }
      if (message.type === 'challenge' || message.type === 'auth.ok') return this.badFrame(`unexpected ${message.type} after authentication`);
      if (message.type === 'error' && message.code === 'rate-limited') this.minimumDelayMs = this.options.backoffMaxMs ?? 60_000;
      try {
        this.emit('message', message);
      } catch (error) {
        log.error('error handling console message', { type: message.type, error });
      }
    };
    ws.on('message', (data, isBinary) => {
      this.lastHeard = Date.now();
      // Nothing the console sends may take the agent down.
      try {
        onMessage(data, isBinary);
      } catch (error) {
        this.badFrame(`could not handle frame: ${(error as Error).message}`);
      }
    });
    // ws answers pings itself; a ping is also proof the console is still there.
    ws.on('ping', () => (this.lastHeard = Date.now()));
    ws.on('error', (error) => log.debug('console connection error', { error: error.message }));
    ws.on('close', (code, reason) => {
      if (this.ws !== ws) return;
      const why = `closed (${code}${reason.length ? ` ${reason.toString().slice(0, 100)}` : ''})`;
      this.teardown(why);
      if (code === 4029 || code === 4003) this.minimumDelayMs = this.options.backoffMaxMs ?? 60_000;
      this.scheduleReconnect();
    });
  }

  private badFrame(detail: string): void {
    this.badFrames++;
    this.options.log.warn('ignored a bad frame from the console', { detail });
  }

  /** A policy may change the heartbeat period; applies from now on. */
  setHeartbeatSeconds(seconds: number): void {
    if (this.isReady) this.startHeartbeat(seconds);
  }

  private startHeartbeat(seconds: number): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = setInterval(() => this.send({ v: PROTOCOL_VERSION, type: 'heartbeat', sentAt: new Date().toISOString() }), seconds * 1000);
    this.heartbeat.unref();
  }

  private teardown(reason: string): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    if (this.watchdog) clearTimeout(this.watchdog);
    this.heartbeat = null;
    this.watchdog = null;
    const ws = this.ws;
    const wasReady = this.authenticated;
    this.ws = null;
    this.authenticated = false;
    if (ws && ws.readyState !== WebSocket.CLOSED) ws.terminate();
    if (wasReady) {
      this.options.log.info('disconnected from console', { reason });
      this.emit('down', reason);
    }
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    const delay = this.backoff.nextAtLeast(this.minimumDelayMs);
    this.options.log.debug('reconnecting', { inMs: delay, attempt: this.backoff.attempts });
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }
}
