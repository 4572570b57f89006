import type { Logger } from '../../shared/node/log.js';
import { PROTOCOL_VERSION } from '../../shared/protocol.js';
import type { AppControlStatus, DeviceStatus, LocalIpcDrops, OutboxStatus } from '../../shared/status.js';
import { VIGIL_VERSION } from '../../shared/node/version.js';
import type { Component } from '../lifecycle.js';
import type { AgentLink } from '../link.js';
import type { PolicyBus } from '../policy-bus.js';
import type { PolicyStore } from '../policy-store.js';
import type { Sessions, SystemFacts } from '../platform/sysinfo.js';

export interface StatusSources {
  systemFacts(): Promise<SystemFacts>;
  signedInSessions(): Promise<Sessions>;
}

/**
 * The device's status frame: sent when the link comes up, after every policy (application
 * control's state changes with it) and every `statusSeconds` of the policy while connected.
 */
export class StatusReporter implements Component {
  readonly name = 'status-reporter';
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly deps: {
      link: Pick<AgentLink, 'send'>;
      store: PolicyStore;
      bus: PolicyBus;
      appControl: () => AppControlStatus;
      /** The tray socket's refusals and timeouts, when this agent serves one. */
      localIpc?: LocalIpcDrops;
      outbox: () => OutboxStatus;
      /**
       * The user of the session under control (null: nobody signed in there), or undefined when
       * no session is controlled here. What the service measures and enforces on is the
       * status's user; the system's session list only stands in when there is no such measure.
       */
      seatUser?: () => string | null | undefined;
      sources: StatusSources;
      log: Logger;
    },
  ) {
    deps.bus.subscribe(() => {
      void this.sendNow();
      // The interval follows the policy once the first connection has started it.
      if (this.timer) this.schedule();
    });
  }

  start(): void {}

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  schedule(): void {
    clearInterval(this.timer);
    const seconds = this.deps.store.bundle?.payload.policy.agent.statusSeconds ?? 60;
    this.timer = setInterval(() => void this.sendNow(), seconds * 1000);
  }

  async collect(): Promise<DeviceStatus> {
    const [facts, sessions] = await Promise.all([this.deps.sources.systemFacts(), this.deps.sources.signedInSessions()]);
    const controlledUser = this.deps.seatUser?.();
    return {
      hostname: facts.hostname,
      os: { platform: facts.platform, release: facts.release, distro: facts.distro, arch: facts.arch },
      user: controlledUser === undefined ? sessions.seatUser : controlledUser,
      users: sessions.users,
      uptimeSeconds: facts.uptimeSeconds,
      agentVersion: VIGIL_VERSION,
      policyVersion: this.deps.store.version,
      appControl: this.deps.appControl(),
      ...(this.deps.localIpc ? { localIpc: { ...this.deps.localIpc } } : {}),
      outbox: this.deps.outbox(),
      collectedAt: new Date().toISOString(),
    };
  }

  async sendNow(): Promise<void> {
    try {
      this.deps.link.send({ v: PROTOCOL_VERSION, type: 'status', status: await this.collect() });
    } catch (error) {
      this.deps.log.warn('could not collect device status', { error });
    }
  }
}
