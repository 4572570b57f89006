import type { PowerState } from '../../shared/activity.js';
import { describeSharing } from '../../shared/activity-words.js';
import type { Logger } from '../../shared/node/log.js';
import type { MonitoringState } from '../../shared/local-ipc.js';
import type { LocalIpcDrops } from '../../shared/status.js';
import type { AppControl } from '../app-control.js';
import type { AupGateApi } from '../aup/gate-api.js';
import type { Component } from '../lifecycle.js';
import type { AgentLink } from '../link.js';
import { createTrayIpc, type TrayIpc } from '../local-ipc/tray-ipc.js';
import type { AgentPlatform } from '../platform/agent-platform.js';
import type { PolicyStore } from '../policy-store.js';
import type { TrayIdleReports } from '../session/tray-idle.js';
import type { UsbGate } from '../usb/usb-gate.js';
import type { TrayPresence } from './aup-controller.js';
import type { EventPump } from './event-pump.js';
import type { SeatView } from './seat-controller.js';

export interface TrayConfig {
  /** The socket path; null in user mode, where the tray calls in-process. */
  path: string | null;
  trayCommand?: string[];
  /** The installed tray executables (`--tray-executable`): only a peer running one of them is the tray. */
  trayExecutables?: string[];
}

/**
 * The service's side of the tray (docs/tray.md): the local IPC, fed with what the pupil may see
 * (monitoring state, the AUP gate, USB and block notices) and taking the tray's lock, power and
 * idle reports to session control and the console.
 */
export class TrayBridge implements Component, TrayPresence {
  readonly name = 'tray-bridge';
  readonly ipc: TrayIpc;

  constructor(deps: {
    config: TrayConfig;
    mode: 'service' | 'user';
    platform: AgentPlatform;
    link: Pick<AgentLink, 'canSend'>;
    store: PolicyStore;
    pump: EventPump;
    seat: SeatView;
    appControl: AppControl;
    usbGate: UsbGate | null;
    aupGate: AupGateApi;
    trayIdle: TrayIdleReports;
    reportPower: (state: PowerState) => boolean;
    drops: LocalIpcDrops;
    log: Logger;
  }) {
    const { seat, store, appControl, usbGate } = deps;
    const policy = () => store.bundle?.payload.policy;
    const activityForTray = (): MonitoringState['activity'] => {
      const sampler = seat.activity;
      if (!sampler) return null;
      const now = sampler.now;
      const words = describeSharing(now, policy()?.activity ?? null, seat.ownership);
      return { collecting: now.collecting, mode: now.mode, pausedReason: now.pausedReason, words };
    };
    this.ipc = createTrayIpc({
      path: deps.config.path,
      platform: deps.platform.tray,
      userName: async (uid) => (await deps.platform.users.nameOf(uid)) ?? String(uid),
      trayCommand: deps.config.trayCommand ?? null,
      mode: deps.mode,
      aupGate: deps.aupGate,
      session: () => ({ uid: seat.target?.uid ?? null, display: seat.target?.display, xauthority: seat.target?.xauthority }),
      consoleConnected: () => deps.link.canSend,
      policyVersion: () => store.version,
      policy: () => policy()?.tray,
      monitoring: () => ({
        appControl: appControl.status,
        idleLockSeconds: seat.runner ? (policy()?.session?.lockAfterIdleSeconds ?? 300) : null,
        activity: activityForTray(),
        usbControl: !!usbGate,
      }),
      emit: (event) => deps.pump.emit(event),
      lock: async () => (seat.runner ? seat.runner.command('lock') : { ok: false, detail: 'session control is not running on this device' }),
      power: deps.reportPower,
      idle: (uid, reading) => deps.trayIdle.record(uid, reading),
      trayExecutables: deps.config.trayExecutables,
      signerOf: deps.platform.exec.signerOf,
      drops: deps.drops,
      log: deps.log,
    });
    deps.pump.onEvent((event) => this.ipc.onEvent(event));
    usbGate?.onNotice((notice) => this.ipc.onUsbNotice(notice));
  }

  start(): Promise<void> {
    return this.ipc.listen();
  }

  stop(): Promise<void> {
    return this.ipc.close();
  }

  hasTrayFor(user: string): boolean {
    return this.ipc.hasTrayFor(user);
  }

  aupChanged(): void {
    this.ipc.aupChanged();
  }
}
