import { EventEmitter } from 'node:events';
import { lstatSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { dirname } from 'node:path';
import {
  IPC_LIMITS,
  ServiceMessageSchema,
  TrayResultSchemas,
  type IpcErrorCode,
  type ServiceNotice,
  type TrayOp,
  type TrayRequest,
  type TrayResult,
} from '../../shared/local-ipc.js';
import { encodeLine, LineSplitter } from './framing.js';
import { summariseZodError } from '../../shared/zod-errors.js';
import type { PeerCredentials } from './peercred.js';
import { hostTrayPlatform, trayClientTransport, type TrayPlatform } from './transport.js';

/** A request the service refused or could not carry out (or an answer the tray cannot read). */
export class IpcCallError extends Error {
  constructor(
    readonly code: IpcErrorCode | 'disconnected' | 'bad-answer' | 'timeout',
    message: string,
  ) {
    super(message);
  }
}

export interface TrayIpcClientOptions {
  /** The Unix socket; Windows uses the named pipe whatever this says. */
  path: string;
  /** The OS, its peer check and pipe (tests inject fakes). */
  platform?: TrayPlatform;
  /** The uid the service must run as (root); anything else is an impostor. */
  expectServerUid?: number;
  credentialsOf?: (socket: Socket) => PeerCredentials;
  callTimeoutMs?: number;
}

type Fields<Op extends TrayOp> = Omit<Extract<TrayRequest, { op: Op }>, 'id' | 'op'>;

/**
 * The tray's end of the local IPC. Before sending anything it checks that the socket file and
 * its directory belong to root and that the process listening is root (SO_PEERCRED/getpeereid;
 * on Windows: the pipe is owned by LocalSystem, win32-pipe.ts), so a
 * pupil's own program posing as the service gets nothing — not even the concern text.
 */
export class TrayIpcClient extends EventEmitter<{ notice: [ServiceNotice]; close: [] }> {
  private nextId = 1;
  private readonly pending = new Map<number, { op: TrayOp; resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();

  private constructor(
    private readonly socket: Socket,
    private readonly callTimeoutMs: number,
  ) {
    super();
    const splitter = new LineSplitter(
      IPC_LIMITS.responseLineBytes,
      (line) => this.onLine(line),
      () => this.fail('the service sent an oversized message'),
    );
    socket.on('data', (chunk: Buffer) => splitter.push(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      for (const [, p] of this.pending) (clearTimeout(p.timer), p.reject(new IpcCallError('disconnected', 'the Vigil service closed the connection')));
      this.pending.clear();
      this.emit('close');
    });
  }

  static async connect(options: TrayIpcClientOptions): Promise<TrayIpcClient> {
    const transport = trayClientTransport(options.path, options.platform ?? hostTrayPlatform);
    // The pipe's ACL and its owner (checked by connect) stand for the file checks below.
    if (transport.kind === 'named-pipe') return new TrayIpcClient(transport.connect(), options.callTimeoutMs ?? 30_000);
    const expectUid = options.expectServerUid ?? 0;
    checkSocketOwnership(options.path, expectUid);
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect(options.path, () => (s.off('error', reject), resolve(s)));
      s.once('error', reject);
    });
    try {
      const server = (options.credentialsOf ?? transport.credentialsOf)(socket);
      if (server.uid !== expectUid) throw new Error(`the process behind ${options.path} runs as uid ${server.uid}, not ${expectUid}: not the Vigil service`);
    } catch (error) {
      socket.destroy();
      throw error;
    }
    return new TrayIpcClient(socket, options.callTimeoutMs ?? 30_000);
  }

  get connected(): boolean {
    return !this.socket.destroyed;
  }

  call<Op extends TrayOp>(op: Op, fields: Fields<Op>): Promise<TrayResult<Op>> {
    if (this.socket.destroyed) return Promise.reject(new IpcCallError('disconnected', 'not connected to the Vigil service'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new IpcCallError('timeout', `the Vigil service did not answer "${op}"`));
      }, this.callTimeoutMs);
      this.pending.set(id, { op, resolve: resolve as (v: unknown) => void, reject, timer });
      this.socket.write(encodeLine({ ...fields, id, op }));
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private onLine(line: string): void {
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      return this.fail('the service sent something that is not JSON');
    }
    const parsed = ServiceMessageSchema.safeParse(json);
    if (!parsed.success) return this.fail(`the service sent an unreadable message: ${summariseZodError(parsed.error)}`);
    const message = parsed.data;
    if (message.kind === 'notice') return void this.emit('notice', message);
    const waiting = message.id === null ? undefined : this.pending.get(message.id);
    if (!waiting) return; // an answer to nothing we are waiting for (e.g. a late one)
    this.pending.delete(message.id!);
    clearTimeout(waiting.timer);
    if (!message.ok) return waiting.reject(new IpcCallError(message.code, message.message));
    const result = TrayResultSchemas[waiting.op].safeParse(message.result);
    if (result.success) waiting.resolve(result.data);
    else waiting.reject(new IpcCallError('bad-answer', `the service's answer to "${waiting.op}" is not valid: ${summariseZodError(result.error)}`));
  }

  private fail(why: string): void {
    for (const [, p] of this.pending) (clearTimeout(p.timer), p.reject(new IpcCallError('bad-answer', why)));
    this.pending.clear();
    this.socket.destroy();
  }
}

/** The socket and its directory must be the service user's and not writable by anyone else. */
function checkSocketOwnership(path: string, uid: number): void {
  const socket = lstatSync(path);
  if (!socket.isSocket()) throw new Error(`${path} is not a socket`);
  if (socket.uid !== uid) throw new Error(`${path} belongs to uid ${socket.uid}, not ${uid}: not the Vigil service`);
  const dir = lstatSync(dirname(path));
  if (dir.uid !== uid || dir.mode & 0o022)
    throw new Error(`${dirname(path)} can be changed by users other than uid ${uid}; refusing to trust the socket in it`);
}
