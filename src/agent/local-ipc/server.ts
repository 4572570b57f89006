import { chmodSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import type { Logger } from '../../shared/node/log.js';
import { IPC_LIMITS, TrayRequestSchema, type IpcErrorCode, type ServiceMessage, type ServiceNotice, type TrayRequest } from '../../shared/local-ipc.js';
import { encodeLine, LineSplitter } from './framing.js';
import { summariseZodError } from '../../shared/zod-errors.js';
import { newLocalIpcDrops, type LocalIpcDrops } from '../../shared/status.js';
import type { PeerCredentials } from './peercred.js';

/** Who is on the other end, as the kernel says (never as the message says). */
export interface TrayPeer extends PeerCredentials {
  user: string;
  /**
   * Whether the kernel shows the peer running the installed tray executable: true or false, or
   * null where there is nothing to check against (no tray executable configured, Windows).
   * Re-checked at every `hello`.
   */
  tray?: boolean | null;
}

/** A request the service will not carry out, with the code the tray sees. */
export class IpcRefusal extends Error {
  constructor(
    readonly code: IpcErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface TrayRequestHandler {
  handle(request: TrayRequest, peer: TrayPeer): Promise<unknown>;
  /** A connection closed (the tray watch uses it). */
  disconnected?(peer: TrayPeer, saidHello: boolean): void;
}

/**
 * Where connections come from when it is not a Unix socket (the Windows named pipe): each
 * arrives with its peer already named by the OS.
 */
export interface TrayListener {
  start(accept: (socket: Socket, peer: TrayPeer) => void, onError: (message: string) => void): Promise<void>;
  stop(): Promise<void>;
}

export interface TrayIpcServerOptions {
  /** The Unix socket's path (with `listener`: only its name, for logs). */
  path: string;
  handler: TrayRequestHandler;
  credentialsOf: (socket: Socket) => PeerCredentials;
  listener?: TrayListener;
  /** The account name of a peer's uid, the way the OS keeps accounts (AgentPlatform.users). */
  userName: (uid: number) => string | Promise<string>;
  /** Whether a peer process runs the installed tray (tray-identity.ts); absent: not checked (null). */
  isTray?: (peer: PeerCredentials) => boolean | null;
  /** Where refusals and timeouts are counted (the composition root's, sent in the device status). */
  drops?: LocalIpcDrops;
  /** Limits (tests shorten the deadlines). */
  limits?: Partial<ConnectionLimits>;
  log: Logger;
}

type ConnectionLimits = Record<'maxConnections' | 'maxPerUser' | 'handshakeMs' | 'idleMs', number>;

interface Connection {
  socket: Socket;
  peer: TrayPeer;
  inFlight: number;
  saidHello: boolean;
  /** Closes the connection when nothing arrives in time (the handshake deadline, then the idle timeout). */
  quiet: NodeJS.Timeout | null;
}

/**
 * The service's end of the tray IPC on Unix. Anyone may connect (the socket is 0666 so every
 * signed-in user's tray can), but each connection is bound to the uid the kernel reports, and
 * every request is answered for that user alone. Malformed, oversized or slow input gets an
 * error answer or the connection closed; it never reaches the handler and never throws here.
 *
 * One account cannot starve the others: each account holds at most `maxPerUser` connections, a
 * connection must send a complete request within `handshakeMs`, and one silent for `idleMs` is
 * closed. Every refusal and timeout is counted (`drops`).
 */
export class TrayIpcServer {
  private server: Server | null = null;
  private readonly connections = new Set<Connection>();
  private readonly perUser = new Map<string, number>();
  private readonly limits: ConnectionLimits;
  readonly drops: LocalIpcDrops;

  constructor(private readonly options: TrayIpcServerOptions) {
    this.limits = { ...IPC_LIMITS, ...options.limits };
    this.drops = options.drops ?? newLocalIpcDrops();
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  async listen(): Promise<void> {
    const { path, listener } = this.options;
    if (listener) {
      await listener.start(
        (socket, peer) => this.accept(socket, peer),
        (message) => this.options.log.error('tray pipe error', { message }),
      );
      return void this.options.log.info('tray pipe listening', { path });
    }
    prepareSocketDirectory(dirname(path));
    removeStaleSocket(path);
    // No net.Server cap: it would refuse before the kernel names the peer, so one account could
    // fill it for everyone. The caps are applied per account in admit().
    const server = createServer((socket) => this.accept(socket));
    server.on('error', (error) => this.options.log.error('tray socket error', { error }));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
    // Every user's tray connects; who they are is checked per connection, not by file mode.
    chmodSync(path, 0o666);
    this.server = server;
    this.options.log.info('tray socket listening', { path });
  }

  /** Sends a notice to every tray of one user (a blocked program, a logoff warning). */
  notify(uid: number, notice: ServiceNotice): number {
    return this.notifyWhere((peer) => peer.uid === uid, notice);
  }

  /** The same, for a user named in an event (exec events name the user, not the uid). */
  notifyUser(user: string, notice: ServiceNotice): number {
    return this.notifyWhere((peer) => peer.user === user, notice);
  }

  /** To every tray that said hello (a new AUP version: each tray asks whether its user must accept it). */
  notifyAll(notice: ServiceNotice): number {
    return this.notifyWhere(() => true, notice);
  }

  /** Whether a tray of this user is connected and has said hello (it can show the AUP window). */
  hasTrayFor(user: string): boolean {
    for (const c of this.connections) if (c.saidHello && c.peer.user === user) return true;
    return false;
  }

  private notifyWhere(match: (peer: TrayPeer) => boolean, notice: ServiceNotice): number {
    let sent = 0;
    for (const c of this.connections) {
      if (c.saidHello && match(c.peer)) sent += this.send(c, notice) ? 1 : 0;
    }
    return sent;
  }

  async close(): Promise<void> {
    for (const c of this.connections) c.socket.destroy();
    if (this.options.listener) return this.options.listener.stop();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = null;
    try {
      unlinkSync(this.options.path);
    } catch {
      // already gone
    }
  }

  private accept(socket: Socket, named?: TrayPeer): void {
    socket.on('error', () => socket.destroy());
    if (named) return this.admit(socket, named);
    let creds: PeerCredentials;
    let user: string | Promise<string>;
    try {
      creds = this.options.credentialsOf(socket);
      user = this.options.userName(creds.uid);
    } catch (error) {
      // Without the kernel's word on who this is, nothing may be answered.
      this.options.log.warn('refused a tray connection: no peer credentials', { error });
      socket.destroy();
      return;
    }
    if (typeof user === 'string') return this.admit(socket, { ...creds, user });
    // A directory account's name may take a command to learn; the socket stays paused meanwhile.
    user.then(
      (name) => void (socket.destroyed || this.admit(socket, { ...creds, user: name })),
      (error: unknown) => {
        this.options.log.warn('refused a tray connection: its user could not be named', { uid: creds.uid, error });
        socket.destroy();
      },
    );
  }

  private admit(socket: Socket, named: TrayPeer): void {
    const { maxConnections, maxPerUser, handshakeMs, idleMs } = this.limits;
    const held = this.perUser.get(named.user) ?? 0;
    if (held >= maxPerUser || this.connections.size >= maxConnections) {
      const perUser = held >= maxPerUser;
      perUser ? this.drops.refusedPerUser++ : this.drops.refusedTotal++;
      this.logDrop(perUser ? 'refused a tray connection: this account holds too many' : 'refused a tray connection: the service holds too many', named);
      socket.destroy();
      return;
    }
    const peer: TrayPeer = { ...named, tray: this.checkTray(named) };
    const connection: Connection = { socket, peer, inFlight: 0, saidHello: false, quiet: null };
    this.connections.add(connection);
    this.perUser.set(peer.user, held + 1);
    const closeWhenQuiet = (ms: number, counter: 'handshakeTimeouts' | 'idleTimeouts') => {
      if (connection.quiet) clearTimeout(connection.quiet);
      connection.quiet = setTimeout(() => {
        this.drops[counter]++;
        this.logDrop(counter === 'handshakeTimeouts' ? 'closed a tray connection: no request in time' : 'closed a silent tray connection', peer);
        socket.destroy();
      }, ms);
    };
    closeWhenQuiet(handshakeMs, 'handshakeTimeouts');
    let partialTimer: NodeJS.Timeout | null = null;
    const splitter = new LineSplitter(
      IPC_LIMITS.requestLineBytes,
      (line) => {
        // Only a complete line counts as a sign of life; a trickle of bytes does not.
        closeWhenQuiet(idleMs, 'idleTimeouts');
        void this.onLine(connection, line);
      },
      () => {
        this.options.log.warn('tray connection sent an oversized message; closed', { uid: peer.uid, pid: peer.pid });
        this.send(connection, {
          kind: 'result',
          id: null,
          ok: false,
          code: 'too-large',
          message: `a message may be at most ${IPC_LIMITS.requestLineBytes} bytes`,
        });
        socket.end();
      },
    );
    socket.on('data', (chunk: Buffer) => {
      splitter.push(chunk);
      if (partialTimer) clearTimeout(partialTimer);
      partialTimer = splitter.pending ? setTimeout(() => socket.destroy(), IPC_LIMITS.partialLineMs) : null;
    });
    socket.on('close', () => {
      if (partialTimer) clearTimeout(partialTimer);
      if (connection.quiet) clearTimeout(connection.quiet);
      this.connections.delete(connection);
      const left = (this.perUser.get(peer.user) ?? 1) - 1;
      if (left > 0) this.perUser.set(peer.user, left);
      else this.perUser.delete(peer.user);
      try {
        this.options.handler.disconnected?.(peer, connection.saidHello);
      } catch (error) {
        this.options.log.error('tray disconnect handler failed', { error });
      }
    });
  }

  private async onLine(connection: Connection, line: string): Promise<void> {
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      return void this.send(connection, { kind: 'result', id: null, ok: false, code: 'malformed', message: 'not JSON' });
    }
    const parsed = TrayRequestSchema.safeParse(json);
    if (!parsed.success) {
      const rawId = (json as { id?: unknown } | null)?.id;
      const id = Number.isInteger(rawId) && (rawId as number) >= 0 && (rawId as number) <= 2 ** 31 ? (rawId as number) : null;
      return void this.send(connection, { kind: 'result', id, ok: false, code: 'malformed', message: summariseZodError(parsed.error).slice(0, 500) });
    }
    const request = parsed.data;
    if (connection.inFlight >= IPC_LIMITS.maxInFlight) {
      return void this.send(connection, { kind: 'result', id: request.id, ok: false, code: 'busy', message: 'too many requests at once' });
    }
    connection.inFlight++;
    // The process may have exec'd since it connected: the tray check is made again at hello.
    if (request.op === 'hello') connection.peer.tray = this.checkTray(connection.peer);
    try {
      const result = await this.options.handler.handle(request, connection.peer);
      if (request.op === 'hello') connection.saidHello = true;
      this.send(connection, { kind: 'result', id: request.id, ok: true, result });
    } catch (error) {
      const refusal = error instanceof IpcRefusal ? error : null;
      if (!refusal) this.options.log.error('tray request failed', { op: request.op, uid: connection.peer.uid, error });
      this.send(connection, {
        kind: 'result',
        id: request.id,
        ok: false,
        code: refusal?.code ?? 'failed',
        message: (refusal ?? (error as Error)).message.slice(0, 500),
      });
    } finally {
      connection.inFlight--;
    }
  }

  private checkTray(peer: PeerCredentials): boolean | null {
    try {
      return this.options.isTray ? this.options.isTray(peer) : null;
    } catch {
      return false;
    }
  }

  /** Logged at the first drop and every 100th after, so a flood cannot flood the log. */
  private logDrop(message: string, peer: TrayPeer): void {
    const { refusedPerUser, refusedTotal, handshakeTimeouts, idleTimeouts } = this.drops;
    const total = refusedPerUser + refusedTotal + handshakeTimeouts + idleTimeouts;
    if (total === 1 || total % 100 === 0) this.options.log.warn(message, { uid: peer.uid, user: peer.user, pid: peer.pid, drops: { ...this.drops } });
  }

  private send(connection: Connection, message: ServiceMessage): boolean {
    if (connection.socket.destroyed || !connection.socket.writable) return false;
    const line = encodeLine(message);
    if (Buffer.byteLength(line) > IPC_LIMITS.responseLineBytes) {
      this.options.log.error('tray answer too large to send', { bytes: Buffer.byteLength(line) });
      return false;
    }
    // A client that asks but never reads must not make the service hold its answers forever.
    if (connection.socket.writableLength > IPC_LIMITS.unreadBytes) {
      this.options.log.warn('tray connection is not reading its answers; closed', { uid: connection.peer.uid, pid: connection.peer.pid });
      connection.socket.destroy();
      return false;
    }
    connection.socket.write(line);
    return true;
  }
}

/**
 * The socket's directory must be root's and writable by nobody else, or another user could
 * replace the socket with their own and impersonate the service. Created if missing.
 */
function prepareSocketDirectory(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const stat = lstatSync(dir);
  const me = process.getuid?.() ?? 0;
  if (!stat.isDirectory() || stat.uid !== me) throw new Error(`${dir} must be a directory owned by the service's user`);
  if (stat.mode & 0o022) chmodSync(dir, stat.mode & ~0o022 & 0o7777);
}

/** A socket left by a previous run is removed; anything else at the path is an error. */
function removeStaleSocket(path: string): void {
  try {
    if (!lstatSync(path).isSocket()) throw new Error(`${path} exists and is not a socket; refusing to replace it`);
    unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}
