import { EventEmitter } from 'node:events';
import type { TrayIpc } from '../src/agent/local-ipc/tray-ipc.js';
import { TrayResultSchemas, type ServiceNotice, type TrayOp, type TrayRequest, type TrayResult } from '../src/shared/local-ipc.js';
import type { ServiceConnection } from './service-connection.js';

type Fields<Op extends TrayOp> = Omit<Extract<TrayRequest, { op: Op }>, 'id' | 'op'>;

/**
 * User mode (BYOD, no admin rights): the service core runs inside the tray process, so the
 * tray calls it directly. Requests and answers still pass the same schemas as over the socket.
 */
export class InProcessServiceConnection extends EventEmitter<{ notice: [ServiceNotice]; change: [] }> implements ServiceConnection {
  readonly connected = true;
  readonly problem = null;
  private nextId = 1;

  constructor(private readonly ipc: TrayIpc) {
    super();
    ipc.notices.on('notice', (notice) => this.emit('notice', notice));
  }

  async call<Op extends TrayOp>(op: Op, fields: Fields<Op>): Promise<TrayResult<Op>> {
    const result = await this.ipc.direct({ ...fields, id: this.nextId++, op } as TrayRequest);
    return TrayResultSchemas[op].parse(result) as TrayResult<Op>;
  }

  close(): void {
    void this.ipc.close();
  }
}
