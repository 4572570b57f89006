import type { Logger } from '../../shared/node/log.js';
import { policyDigest } from '../../shared/node/policy-verify.js';
import { PROTOCOL_VERSION } from '../../shared/protocol.js';
import { VIGIL_VERSION } from '../../shared/node/version.js';
import type { Component } from '../lifecycle.js';
import type { AgentLink } from '../link.js';
import { linkDispatcher, type LinkHandlers } from '../link-dispatch.js';
import type { PolicyStore } from '../policy-store.js';
import type { EventPump } from './event-pump.js';
import type { StatusReporter } from './status-reporter.js';

/**
 * The console link's life: started and stopped with the agent; on each authenticated connection
 * it says hello (version, held policy, capabilities), sends the status and restarts the event
 * pump. Every message from the console goes through the one dispatch table it is given.
 */
export class ConsoleSession implements Component {
  readonly name = 'console-session';

  constructor(
    private readonly deps: {
      link: AgentLink;
      mode: 'service' | 'user';
      store: PolicyStore;
      pump: EventPump;
      status: StatusReporter;
      /** What this device can do now (session control and activity follow the seat). */
      capabilities: () => string[];
      /** Called on each new connection after the status (activity re-sends its current state). */
      onConnected: () => void;
      /** Called when the connection drops (answers in flight will not come). */
      onDown: () => void;
      handlers: LinkHandlers;
      log: Logger;
    },
  ) {
    const dispatch = linkDispatcher(deps.handlers, deps.log);
    deps.link.on('ready', () => void this.onReady());
    deps.link.on('down', () => (deps.pump.linkDown(), deps.onDown()));
    deps.link.on('message', dispatch);
  }

  start(): void {
    this.deps.link.start();
  }

  stop(): void {
    this.deps.link.stop();
  }

  private async onReady(): Promise<void> {
    const { link, store, pump, status, mode } = this.deps;
    pump.linkDown();
    link.send({
      v: PROTOCOL_VERSION,
      type: 'hello',
      agentVersion: VIGIL_VERSION,
      policyVersion: store.version,
      policyDigest: store.bundle ? policyDigest(store.bundle.payload) : null,
      mode,
      capabilities: this.deps.capabilities(),
    });
    await status.sendNow();
    this.deps.onConnected();
    status.schedule();
    pump.pump();
  }
}
