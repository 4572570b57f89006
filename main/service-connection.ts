import { EventEmitter } from 'node:events';
import { IpcCallError, TrayIpcClient, type TrayIpcClientOptions } from '../src/agent/local-ipc/client.js';
import type { ServiceNotice, TrayOp, TrayRequest, TrayResult } from '../src/shared/local-ipc.js';

type Fields<Op extends TrayOp> = Omit<Extract<TrayRequest, { op: Op }>, 'id' | 'op'>;

/** The tray's view of the agent service, whether over the socket or in-process (user mode). */
export interface ServiceConnection extends EventEmitter<{ notice: [ServiceNotice]; change: [] }> {
  readonly connected: boolean;
  /** Why the service is out of reach (null when connected). */
  readonly problem: string | null;
  call<Op extends TrayOp>(op: Op, fields: Fields<Op>): Promise<TrayResult<Op>>;
  close(): void;
}

/**
 * The socket connection, kept up: on loss it retries every `retryMs`, and on each (re)connect
 * says hello so the service's tray watch knows this user's tray is running.
 */
export class SocketServiceConnection extends EventEmitter<{ notice: [ServiceNotice]; change: [] }> implements ServiceConnection {
  private client: TrayIpcClient | null = null;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  problem: string | null = 'connecting to the Vigil service';

  constructor(private readonly options: TrayIpcClientOptions & { trayVersion: string; retryMs?: number }) {
    super();
    void this.connect();
  }

  get connected(): boolean {
    return !!this.client?.connected;
  }

  call<Op extends TrayOp>(op: Op, fields: Fields<Op>): Promise<TrayResult<Op>> {
    if (!this.client?.connected) return Promise.reject(new IpcCallError('disconnected', this.problem ?? 'not connected to the Vigil service'));
    return this.client.call(op, fields);
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.client?.close();
  }

  private async connect(): Promise<void> {
    this.timer = null;
    let client: TrayIpcClient | null = null;
    try {
      client = await TrayIpcClient.connect(this.options);
      if (this.closed) return client.close();
      client.on('notice', (notice) => this.emit('notice', notice));
      await client.call('hello', { trayVersion: this.options.trayVersion });
      client.on('close', () => {
        this.client = null;
        this.lost('the Vigil service closed the connection');
      });
      this.client = client;
      this.problem = null;
      this.emit('change');
    } catch (error) {
      client?.close();
      this.lost((error as Error).message);
    }
  }

  private lost(problem: string): void {
    this.problem = problem;
    this.emit('change');
    if (!this.closed && !this.timer) this.timer = setTimeout(() => void this.connect(), this.options.retryMs ?? 3000);
  }
}
