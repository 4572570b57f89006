import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { keyId as keyIdOfDevice, randomToken } from '../shared/node/crypto.js';
import type { SignedAup } from '../shared/aup.js';
import type { SignedCommand } from '../shared/command.js';
import { LIMITS } from '../shared/limits.js';
import type { Logger } from '../shared/node/log.js';
import { deviceAuthPayload, parseAgentMessage, PROTOCOL_VERSION, type AgentMessage, type ConsoleMessageInput } from '../shared/protocol.js';
import { signPayload, verifyPayload } from '../shared/node/signing.js';
import type { EventRouter } from './agent-link/event-router.js';
import type { AgentLinkStats } from './agent-link/stats.js';
import type { ConsoleIdentity } from './identity.js';
import { AdmissionGate } from './agent-link/admission.js';
import { FrameBudgets } from './agent-link/frame-budget.js';
import { freshKeepalive, visitKeepalive, type KeepaliveState } from './agent-link/keepalive.js';
import { PenaltyBox } from './rate-limit.js';
import type { DeviceStore, PolicyStore } from './store/store.js';

export interface AgentHubOptions {
  /**
   * How often the console visits each agent's connection: it pings one it has not heard from, or
   * not written to, since the last visit, and drops one that missed a pong (agent-link/keepalive.ts).
   */
  pingIntervalMs: number;
  /** Time an agent has to answer the challenge. */
  authTimeoutMs: number;
  heartbeatSeconds: number;
  /** Invalid frames tolerated per connection (in `strikeWindowMs`) before it is cut off. */
  maxStrikes: number;
  strikeWindowMs: number;
  penaltyMs: number;
  /**
   * Unauthenticated connections held at once, per address and in all. Past the cap the oldest
   * unauthenticated one of that address (or of the busiest address) is closed to make room.
   */
  maxPendingPerAddress: number;
  maxPendingTotal: number;
  /**
   * While the event loop is later than this (ms), new agent connections are turned away at the
   * upgrade with 503 and come back after their backoff (agent-link/admission.ts); 0: never.
   */
  maxEventLoopLagMs: number;
}

export const DEFAULT_HUB_OPTIONS: AgentHubOptions = {
  pingIntervalMs: 15_000,
  // One round trip (challenge, signed answer): seconds are plenty even on a loaded school link.
  authTimeoutMs: 5_000,
  heartbeatSeconds: 30,
  maxStrikes: 5,
  strikeWindowMs: 60_000,
  penaltyMs: 30_000,
  maxPendingPerAddress: 512,
  maxPendingTotal: 4096,
  // Half the dashboard's one-second budget: a survivor of a failover stays that responsive.
  maxEventLoopLagMs: 500,
};

/**
 * Pings go out in this many slices spread over the ping interval: at 10,000 connections a slice
 * is about 170 socket writes, which a loaded machine does in tens of milliseconds (ten slices of
 * 1,000 held the event loop, and the dashboard feed, for half a second each).
 */
const PING_SLICES = 60;

/** Close codes the agent understands (4000-4999 are application-defined). */
export const CLOSE = {
  replaced: 4000,
  authFailed: 4001,
  revoked: 4003,
  rateLimited: 4029,
  policyViolation: 1008,
} as const;

interface Connection {
  ws: WebSocket;
  ip: string;
  nonce: string | null;
  deviceId: string | null;
  keepalive: KeepaliveState;
  /** Which of the PING_SLICES pings this connection. */
  pingSlot: number;
  /** Messages are handled one at a time per connection so acks follow stores in order. */
  queue: Promise<void>;
  /** Ends the connection's "unauthenticated" status (once). */
  settle: () => void;
}

/**
 * The agents' WebSocket endpoint, and only that: challenge-response authentication with the
 * device key, per-connection limits, and sending. Every frame of an authenticated device goes
 * to the event router (agent-link/event-router.ts), one at a time per connection, which decides
 * who handles it. Anything malformed is answered with an error frame, counted, and — when it
 * keeps coming — cut off and rate-limited.
 */
export class AgentHub {
  private readonly wss: WebSocketServer;
  private readonly byDevice = new Map<string, Connection>();
  private readonly connections = new Set<Connection>();
  /** Disconnects still being recorded (store, dashboards, other processes): close() waits for them. */
  private readonly closing = new Set<Promise<void>>();
  /** Invalid frames per device (or address, before auth); too many in a window boxes the sender. */
  private readonly penalties: PenaltyBox;
  /**
   * Connections not yet authenticated, per address (oldest first) and in all. Addresses are
   * not penalised or refused (a whole school shares one behind NAT or a proxy, so one pupil
   * could otherwise keep every laptop out); instead each unauthenticated connection is
   * short-lived, and when the cap is reached the oldest one of that address is closed to make
   * room. A newcomer is always let in, and a real agent needs one round trip to authenticate,
   * so a flood from its own address cannot keep it out: the flood would have to open a whole
   * cap's worth of connections within that round trip.
   */
  private readonly preAuthByIp = new Map<string, Set<Connection>>();
  private preAuthTotal = 0;
  /** Per-device frame budgets (agent-link/frame-budget.ts). */
  readonly budgets = new FrameBudgets();
  private readonly pingTimer: NodeJS.Timeout;
  private readonly admission: AdmissionGate;
  private pingTick = 0;
  private nextPingSlot = 0;

  constructor(
    private readonly store: Pick<DeviceStore, 'getDevice'> & Pick<PolicyStore, 'latestPolicy'>,
    private readonly identity: ConsoleIdentity,
    private readonly router: EventRouter,
    readonly stats: AgentLinkStats,
    private readonly log: Logger,
    private readonly options: AgentHubOptions = DEFAULT_HUB_OPTIONS,
  ) {
    this.penalties = new PenaltyBox({
      maxFailures: options.maxStrikes,
      windowMs: options.strikeWindowMs,
      basePenaltyMs: options.penaltyMs,
      maxPenaltyMs: 3600_000,
    });
    this.wss = new WebSocketServer({ noServer: true, maxPayload: LIMITS.wsMaxPayloadBytes, perMessageDeflate: false });
    this.pingTimer = setInterval(() => this.pingSlice(), options.pingIntervalMs / PING_SLICES);
    this.pingTimer.unref();
    this.admission = new AdmissionGate(options.maxEventLoopLagMs, (ms) => {
      stats.lateTurns++;
      stats.worstLateMs = Math.max(stats.worstLateMs, Math.round(ms));
    });
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, ip: string): void {
    // Agents send no Origin; browsers always do on a WebSocket. A page elsewhere (or the
    // console's own) has no business on the agents' endpoint.
    if (req.headers.origin !== undefined || req.headers['sec-fetch-site'] !== undefined) {
      this.stats.refusedOrigin++;
      this.log.warn('refused an agent WebSocket opened by a browser page', { ip, origin: String(req.headers.origin ?? '').slice(0, 200) });
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    if (this.admission.busy()) {
      this.stats.refusedBusy++;
      if (this.stats.refusedBusy === 1 || this.stats.refusedBusy % 1000 === 0) {
        this.log.warn('turning new agent connections away until the console catches up', { lagMs: this.admission.lagMs(), refused: this.stats.refusedBusy });
      }
      socket.end('HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, ip));
  }

  /** Unauthenticated connections now, per address (tests and the flood benchmark read it). */
  pendingFrom(ip: string): number {
    return this.preAuthByIp.get(ip)?.size ?? 0;
  }

  /** Holds a slot for a new unauthenticated connection, closing the oldest one in the way. */
  private holdPending(conn: Connection): void {
    const own = this.preAuthByIp.get(conn.ip);
    if (own && own.size >= this.options.maxPendingPerAddress) this.evictOldest(own, 'its address has too many connections waiting to authenticate');
    else if (this.preAuthTotal >= this.options.maxPendingTotal) {
      let busiest: Set<Connection> | null = null;
      for (const set of this.preAuthByIp.values()) if (!busiest || set.size > busiest.size) busiest = set;
      if (busiest) this.evictOldest(busiest, 'the console has too many connections waiting to authenticate');
    }
    let set = this.preAuthByIp.get(conn.ip);
    if (!set) this.preAuthByIp.set(conn.ip, (set = new Set()));
    set.add(conn);
    this.preAuthTotal++;
  }

  private releasePending(conn: Connection): void {
    const set = this.preAuthByIp.get(conn.ip);
    if (!set?.delete(conn)) return;
    this.preAuthTotal--;
    if (set.size === 0) this.preAuthByIp.delete(conn.ip);
  }

  private evictOldest(set: Set<Connection>, why: string): void {
    const oldest = set.values().next().value;
    if (!oldest) return;
    this.releasePending(oldest);
    this.stats.preAuthEvicted++;
    if (this.stats.preAuthEvicted === 1 || this.stats.preAuthEvicted % 1000 === 0) {
      this.log.warn('closed an unauthenticated agent connection to make room', { ip: oldest.ip, why, evicted: this.stats.preAuthEvicted });
    }
    oldest.ws.terminate();
  }

  private accept(ws: WebSocket, ip: string): void {
    const conn: Connection = {
      ws,
      ip,
      nonce: randomToken(32),
      deviceId: null,
      keepalive: freshKeepalive(),
      pingSlot: this.nextPingSlot++ % PING_SLICES,
      queue: Promise.resolve(),
      settle: () => undefined,
    };
    this.connections.add(conn);
    this.stats.connected++;
    this.stats.accepted++;
    this.holdPending(conn);
    const settle = () => this.releasePending(conn);
    conn.settle = settle;
    const authTimer = setTimeout(() => {
      if (conn.deviceId) return;
      this.stats.preAuthTimedOut++;
      this.refuse(conn, 'timeout', 'no authentication within the time allowed', CLOSE.authFailed);
    }, this.options.authTimeoutMs);
    ws.on('pong', () => (conn.keepalive.heard = true));
    ws.on('message', (data, isBinary) => {
      conn.keepalive.heard = true;
      conn.queue = conn.queue
        .then(() => this.onFrame(conn, data, isBinary))
        .catch((error) => {
          this.log.error('error handling agent frame', { deviceId: conn.deviceId, error });
          this.send(conn, { v: PROTOCOL_VERSION, type: 'error', code: 'internal', message: 'the console could not process that message' });
          this.countStrike(conn, 'a message the console could not process');
        });
    });
    ws.on('error', (error) => {
      // ws reports oversized frames and protocol violations here and closes the socket itself.
      this.log.warn('agent connection error', { deviceId: conn.deviceId, ip, error: error.message });
      this.stats.rejectedFrames++;
      this.countStrike(conn, `connection error: ${error.message}`);
    });
    ws.on('close', () => {
      clearTimeout(authTimer);
      settle();
      this.connections.delete(conn);
      this.stats.connected--;
      const recorded: Promise<void> = this.onClosed(conn)
        .catch((error) => this.log.error('error marking device offline', { error }))
        .finally(() => this.closing.delete(recorded));
      this.closing.add(recorded);
    });
    this.send(conn, {
      v: PROTOCOL_VERSION,
      type: 'challenge',
      nonce: conn.nonce!,
      consoleKeyId: this.identity.keyId,
      serverTime: new Date().toISOString(),
    });
  }

  private async onFrame(conn: Connection, data: RawData, isBinary: boolean): Promise<void> {
    if (conn.ws.readyState !== conn.ws.OPEN) return;
    if (isBinary) return this.strike(conn, 'malformed', 'binary frames are not part of the protocol');
    const parsed = parseAgentMessage(Buffer.isBuffer(data) ? data : Buffer.concat(data as Buffer[]));
    if (!parsed.ok) return this.strike(conn, parsed.code, parsed.message);
    const message = parsed.message;
    if (!conn.deviceId) {
      if (message.type !== 'auth') return this.strike(conn, 'not-authenticated', `authenticate before sending ${message.type}`);
      return this.authenticate(conn, message);
    }
    return this.handle(conn, conn.deviceId, message);
  }

  private async authenticate(conn: Connection, message: Extract<AgentMessage, { type: 'auth' }>): Promise<void> {
    const expected = conn.nonce;
    // The challenge is single-use: whatever happens next, this connection can't try it again.
    conn.nonce = null;
    if (!expected || message.nonce !== expected) {
      return this.refuse(conn, 'bad-nonce', 'the answer does not match the challenge on this connection', CLOSE.authFailed);
    }
    const device = await this.store.getDevice(message.deviceId);
    if (!device) return this.refuse(conn, 'unknown-device', 'this device is not enrolled', CLOSE.authFailed);
    if (device.revoked) return this.refuse(conn, 'revoked', 'this device has been revoked by an administrator', CLOSE.revoked);
    const payload = deviceAuthPayload(message.deviceId, message.nonce, message.clientNonce);
    const signature = { alg: 'ed25519' as const, keyId: keyIdOfDevice(device.publicKey), value: message.signature };
    if (!verifyPayload('device-auth', payload, signature, device.publicKey)) {
      return this.refuse(conn, 'bad-signature', 'the challenge answer is not signed by this device key', CLOSE.authFailed);
    }
    const penalty = this.penalties.retryAfterMs(`device:${device.id}`);
    if (penalty > 0) {
      return this.refuse(conn, 'rate-limited', `too many bad messages; try again in ${Math.ceil(penalty / 1000)} s`, CLOSE.rateLimited);
    }
    const previous = this.byDevice.get(device.id);
    if (previous && previous !== conn) {
      previous.deviceId = null; // so its close does not mark the device offline
      previous.ws.close(CLOSE.replaced, 'replaced by a newer connection');
    }
    conn.deviceId = device.id;
    conn.settle();
    this.byDevice.set(device.id, conn);
    this.stats.authenticated++;
    const consoleSig = signPayload('console-auth', payload, this.identity.privateKey, this.identity.publicKey);
    this.send(conn, {
      v: PROTOCOL_VERSION,
      type: 'auth.ok',
      deviceId: device.id,
      signature: consoleSig.value,
      heartbeatSeconds: (await this.store.latestPolicy())?.document.agent.heartbeatSeconds ?? this.options.heartbeatSeconds,
      pingSeconds: Math.max(1, Math.round(this.options.pingIntervalMs / 1000)),
    });
    await this.router.connected(device.id, new Date().toISOString(), device);
  }

  private async handle(conn: Connection, deviceId: string, message: AgentMessage): Promise<void> {
    if (message.type === 'auth') return this.strike(conn, 'invalid', 'already authenticated');
    const over = this.budgets.take(deviceId, message.type);
    if (over) return this.overBudget(conn, deviceId, message, over);
    const ctx = { deviceId, receivedAt: new Date().toISOString(), reply: (m: ConsoleMessageInput) => this.send(conn, m) };
    return this.router.dispatch(ctx, message);
  }

  /**
   * A frame over the device's budget is dropped and counted, and the device is told (at most
   * every 10 s per type). Events are not lost: unacknowledged, the agent sends them again.
   */
  private overBudget(conn: Connection, deviceId: string, message: AgentMessage, over: { dropped: number; tell: boolean }): void {
    this.stats.framesOverBudget++;
    if (message.type === 'aup.query') {
      const { user, aupHash } = message;
      this.send(conn, { v: PROTOCOL_VERSION, type: 'aup.status', user, aupHash, accepted: false, acceptedAt: null, refused: 'rate-limited' });
      return;
    }
    if (!over.tell) return;
    this.log.warn('device over its frame budget; dropping', { deviceId, type: message.type, dropped: over.dropped });
    this.send(conn, {
      v: PROTOCOL_VERSION,
      type: 'error',
      code: 'rate-limited',
      message: `too many ${message.type} frames: ${over.dropped} dropped so far; slow down`,
    });
  }

  /** Sends one message to a device if it is connected now; false when it is not. */
  sendTo(deviceId: string, message: ConsoleMessageInput): boolean {
    const conn = this.byDevice.get(deviceId);
    return conn ? this.send(conn, message) : false;
  }

  /** The same with a frame serialised once for many devices (the caller checked it against the frame limit). */
  sendText(deviceId: string, text: string): boolean {
    const conn = this.byDevice.get(deviceId);
    if (!conn || conn.ws.readyState !== conn.ws.OPEN) return false;
    conn.ws.send(text);
    conn.keepalive.wrote = true;
    return true;
  }

  /** Sends an AUP to every connected device whose policy names its variant (`variantOf`: the device's group set's). */
  async broadcastAup(signed: SignedAup, variantOf: (deviceId: string) => Promise<string | undefined>): Promise<number> {
    let sent = 0;
    for (const [deviceId, conn] of [...this.byDevice]) {
      if ((await variantOf(deviceId)) !== signed.payload.variant) continue;
      if (this.send(conn, { v: PROTOCOL_VERSION, type: 'aup', aup: signed })) sent++;
    }
    return sent;
  }

  /** Sends a signed command to one device if it is connected now (commands are never queued). */
  sendCommand(deviceId: string, command: SignedCommand): boolean {
    const conn = this.byDevice.get(deviceId);
    return conn ? this.send(conn, { v: PROTOCOL_VERSION, type: 'command', command }) : false;
  }

  /** Cuts off a device at once (after revocation). */
  disconnect(deviceId: string, code: number, reason: string): void {
    this.budgets.forget(deviceId);
    this.byDevice.get(deviceId)?.ws.close(code, reason);
  }

  /**
   * Drops a device's connection because another console process now holds it: closed as
   * "replaced" and not marked offline (the device is online, elsewhere).
   */
  release(deviceId: string): void {
    const conn = this.byDevice.get(deviceId);
    if (!conn) return;
    this.byDevice.delete(deviceId);
    this.budgets.forget(deviceId);
    conn.deviceId = null;
    conn.ws.close(CLOSE.replaced, 'connected to another console process');
  }

  /** The devices connected to this process now. */
  heldDevices(): string[] {
    return [...this.byDevice.keys()];
  }

  isOnline(deviceId: string): boolean {
    return this.byDevice.has(deviceId);
  }

  get onlineCount(): number {
    return this.byDevice.size;
  }

  async close(): Promise<void> {
    clearInterval(this.pingTimer);
    this.admission.close();
    for (const conn of this.connections) conn.ws.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    // Every device's offline is recorded and announced before the caller closes the bus and store.
    while (this.closing.size) await Promise.all(this.closing);
  }

  /**
   * Visits one slice of the connections, so each is visited once per interval: 10,000 socket
   * writes in one callback held the event loop (and the dashboard feed) for up to a second.
   */
  private pingSlice(): void {
    const slice = this.pingTick++ % PING_SLICES;
    for (const conn of this.connections) {
      if (conn.pingSlot !== slice) continue;
      const action = visitKeepalive(conn.keepalive);
      if (action === 'skip') {
        this.stats.pingsSkipped++;
        continue;
      }
      if (action === 'drop') {
        this.stats.missedPongs++;
        this.log.info('agent missed a pong; dropping connection', { deviceId: conn.deviceId, ip: conn.ip });
        conn.ws.terminate();
        continue;
      }
      this.stats.pingsSent++;
      try {
        conn.ws.ping();
      } catch {
        conn.ws.terminate();
      }
    }
  }

  private async onClosed(conn: Connection): Promise<void> {
    if (!conn.deviceId || this.byDevice.get(conn.deviceId) !== conn) return;
    this.byDevice.delete(conn.deviceId);
    await this.router.disconnected(conn.deviceId, new Date().toISOString());
  }

  private strike(conn: Connection, code: 'malformed' | 'unknown-type' | 'invalid' | 'not-authenticated', message: string): void {
    this.stats.rejectedFrames++;
    this.log.warn('rejected frame from agent', { deviceId: conn.deviceId, ip: conn.ip, code, message });
    this.send(conn, { v: PROTOCOL_VERSION, type: 'error', code, message });
    this.countStrike(conn, 'too many invalid messages');
  }

  /**
   * Counts a strike against an authenticated device; past the limit it is cut off and refused
   * for a while. Before authentication there is nobody to count against, so the first bad
   * frame simply ends the connection.
   */
  private countStrike(conn: Connection, why: string): void {
    if (!conn.deviceId) {
      if (conn.ws.readyState === conn.ws.OPEN) conn.ws.close(CLOSE.policyViolation, 'authenticate first');
      return;
    }
    const key = `device:${conn.deviceId}`;
    const penalty = this.penalties.fail(key);
    if (penalty === 0) return;
    this.log.warn('cutting off misbehaving agent connection', { key, why, penaltyMs: penalty });
    this.send(conn, { v: PROTOCOL_VERSION, type: 'error', code: 'rate-limited', message: `${why}; disconnected for ${Math.ceil(penalty / 1000)} s` });
    if (conn.ws.readyState === conn.ws.OPEN) conn.ws.close(CLOSE.rateLimited, 'rate limited');
  }

  private refuse(conn: Connection, code: Extract<ConsoleMessageInput, { type: 'auth.error' }>['code'], message: string, closeCode: number): void {
    this.stats.rejectedFrames++;
    this.log.warn('agent authentication refused', { ip: conn.ip, code, message });
    this.send(conn, { v: PROTOCOL_VERSION, type: 'auth.error', code, message });
    conn.ws.close(closeCode, code);
  }

  private send(conn: Connection, message: ConsoleMessageInput): boolean {
    if (conn.ws.readyState !== conn.ws.OPEN) return false;
    conn.ws.send(JSON.stringify(message));
    conn.keepalive.wrote = true;
    return true;
  }
}
