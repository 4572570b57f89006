import { newLocalIpcDrops } from '../shared/status.js';
import type { PowerState } from '../shared/activity.js';
import { ensurePrivateDir } from '../shared/node/files.js';
import { AGENT_WS_PATH, PROTOCOL_VERSION } from '../shared/protocol.js';
import { VIGIL_VERSION } from '../shared/node/version.js';
import { AcceptanceRecords } from './aup/acceptances.js';
import { AupStore } from './aup/aup-store.js';
import { AupAcceptanceQueries } from './aup/console-query.js';
import { AupGate, aupToShow } from './aup/gate.js';
import type { AupGateApi } from './aup/gate-api.js';
import { AupController, NO_TRAY } from './components/aup-controller.js';
import { AupDeclineHandler } from './components/aup-decline.js';
import { createAppControl } from './components/app-control-host.js';
import { CommandExecutor } from './components/command-executor.js';
import { ConsoleSession } from './components/console-session.js';
import { EventPump } from './components/event-pump.js';
import { PolicyApplier } from './components/policy-applier.js';
import { PolicyNoticesHandler } from './components/policy-notices-handler.js';
import { PolicyNoticeTracker } from './policy-notices.js';
import { POLICY_FETCH_CAPABILITY } from '../shared/policies/delivery.js';
import { NO_SEAT, SeatController } from './components/seat-controller.js';
import { StatusReporter } from './components/status-reporter.js';
import { TrayBridge } from './components/tray-bridge.js';
import { CommandGate } from './commands.js';
import type { AgentConfig } from './config.js';
import { enrollWithRetry } from './enroll.js';
import { loadOrCreateDeviceKey, paths, readDeviceFile } from './identity.js';
import { component, ComponentGroup, type Component } from './lifecycle.js';
import { AgentLink } from './link.js';
import type { TrayIpc } from './local-ipc/tray-ipc.js';
import { Outbox } from './outbox.js';
import type { AgentPlatform } from './platform/agent-platform.js';
import { platformFor } from './platform/select.js';
import { signedInSessions, systemFacts } from './platform/sysinfo.js';
import { PolicyBus } from './policy-bus.js';
import { PolicyStore } from './policy-store.js';
import { systemClock } from './session/clock.js';
import { TrayIdleReports } from './session/tray-idle.js';
import { createUsbGate } from './usb/host.js';

export type { AgentConfig } from './config.js';

/** The running agent, as the CLI, the tray's user mode and tests hold it. */
export interface AgentService {
  readonly deviceId: string;
  /** The AUP gate (the tray's AUP window calls it). */
  readonly aupGate: AupGateApi;
  /** The tray IPC, when this agent runs one (user mode calls it in-process). */
  readonly trayIpc: TrayIpc | null;
  /** Events written and not yet acknowledged by the console. */
  readonly pendingEvents: number;
  stop(): Promise<void>;
}

/**
 * The agent's composition root: enrolls at first start, builds every part once with its
 * dependencies through constructors (the OS's parts from the one platform object), and starts
 * them as one group. Nothing here does the work itself; docs/architecture.md ("Composition roots") says where
 * each job lives.
 */
export async function startAgent(config: AgentConfig, platform: AgentPlatform = platformFor(process.platform)): Promise<AgentService> {
  const { dataDir, log, mode } = config;
  ensurePrivateDir(dataDir);
  const key = loadOrCreateDeviceKey(dataDir);
  const device = readDeviceFile(dataDir) ?? (await enrollWithRetry({ ...config, key }));
  const p = paths(dataDir);

  // Stores and the console link (not yet connected).
  const aupRecords = new AcceptanceRecords(p.aupAcceptances);
  const outbox = new Outbox(p.outbox, config.outboxMaxEvents);
  const policyStore = new PolicyStore(p.policy, device.consolePublicKey);
  const aupStore = new AupStore(p.aup, device.consolePublicKey);
  const wsUrl = new URL(AGENT_WS_PATH, device.consoleUrl);
  wsUrl.protocol = wsUrl.protocol === 'https:' ? 'wss:' : 'ws:';
  const link = new AgentLink({
    url: wsUrl.toString(),
    deviceId: key.deviceId,
    privateKey: key.privateKey,
    publicKey: key.publicKey,
    consolePublicKey: device.consolePublicKey,
    backoffBaseMs: config.backoffBaseMs,
    backoffMaxMs: config.backoffMaxMs,
    log: log.child('link'),
  });
  const aupQueries = new AupAcceptanceQueries(link);
  const pump = new EventPump(outbox, link, log.child('outbox'), config.outboxPollMs);
  const bus = new PolicyBus(log);
  const reportPower = (state: PowerState): boolean => {
    log.info('power state', { state });
    return link.send({ v: PROTOCOL_VERSION, type: 'power', state });
  };

  // Enforcers, each subscribing to the policy bus as it is built.
  const appControl = createAppControl({
    platform,
    mode,
    deviceId: device.deviceId,
    dataDir,
    execMarks: config.execMarks ?? [],
    onTimeout: config.execOnTimeout ?? 'allow',
    bus,
    sink: pump,
    log,
  });
  // The tray socket's refusals and timeouts: counted by the tray IPC, sent in every status.
  const localIpcDrops = config.trayIpc?.path ? newLocalIpcDrops() : undefined;
  const status = new StatusReporter({
    link,
    store: policyStore,
    bus,
    appControl: () => appControl.status,
    localIpc: localIpcDrops,
    outbox: () => pump.health(),
    // With session control the status names the user of the controlled session (`seatController` below).
    seatUser: () => (seatController?.controlsSeat ? seatController.user : undefined),
    sources: { systemFacts, signedInSessions },
    log,
  });
  pump.onDrops(() => void status.sendNow());
  const trayIdle = new TrayIdleReports(systemClock.monoNow);
  const seatController = config.session
    ? new SeatController({
        config: config.session,
        platform,
        store: policyStore,
        bus,
        sink: pump,
        trayIdle,
        sendActivity: (now) => link.send({ v: PROTOCOL_VERSION, type: 'activity', now }),
        seatChanged: () => void status.sendNow(),
        reportPower,
        log,
      })
    : null;
  const seat = seatController ?? NO_SEAT;
  const decline = new AupDeclineHandler(seat);
  const aupGate = new AupGate({
    deviceId: key.deviceId,
    key,
    aup: () => aupToShow(policyStore.bundle, aupStore.aup),
    school: () => policyStore.bundle?.payload.policy.aup?.schoolName ?? '',
    records: aupRecords,
    askConsole: (user, hash) => aupQueries.ask(user, hash),
    emit: (event) => pump.emit(event),
    logoff: (user) => decline.logoff(user),
    log: log.child('aup-gate'),
  });
  const usbGate = createUsbGate(
    { emit: (e) => pump.emit(e), policies: bus, session: () => seat.runner },
    { mode, log, os: platform.os },
    platform.usb({ udevDataDir: config.udevDataDir }),
  );
  const tray = config.trayIpc
    ? new TrayBridge({
        config: config.trayIpc,
        mode,
        platform,
        link,
        store: policyStore,
        pump,
        seat,
        appControl,
        usbGate,
        aupGate,
        trayIdle,
        reportPower,
        drops: localIpcDrops ?? newLocalIpcDrops(),
        log: log.child('tray'),
      })
    : null;
  const aup = new AupController({ gate: aupGate, store: aupStore, seat, tray: tray ?? NO_TRAY, sink: pump, log });
  const policy = new PolicyApplier({ store: policyStore, bus, sink: pump, link, log });
  const notices = new PolicyNoticesHandler({
    tracker: new PolicyNoticeTracker(),
    store: policyStore,
    applier: policy,
    fetch: { consoleUrl: device.consoleUrl, deviceId: key.deviceId, key },
    trustedKey: device.consolePublicKey,
    sink: pump,
    log: log.child('policy-fetch'),
  });
  const commands = new CommandExecutor({
    gate: new CommandGate(p.commandsSeen, key.deviceId, device.consolePublicKey),
    session: () => seat.runner,
    sink: pump,
    link,
    log,
  });
  const consoleSession = new ConsoleSession({
    link,
    mode,
    store: policyStore,
    pump,
    status,
    capabilities: () => ['events', 'policy', POLICY_FETCH_CAPABILITY, ...(seat.runner ? ['session', 'commands', ...(seat.activity ? ['activity'] : [])] : [])],
    onConnected: () => seatController?.resendActivity(),
    onDown: () => aupQueries.linkDown(),
    handlers: {
      policy: (message) => policy.offer(message.bundle),
      'policy.available': (message) => notices.notice(message),
      'events.ack': (message) => pump.acknowledge(message.seqs),
      aup: (message) => aup.offer(message.aup),
      command: (message) => commands.execute(message.command),
      'aup.status': (message) => aupQueries.answer(message),
      error: (message) => log.warn('console reported an error', { code: message.code, message: message.message }),
      'auth.error': () => undefined,
    },
    log,
  });

  // Started in this order, stopped in reverse: the outbox (and acceptance records) outlive every part that reports.
  const parts: Component[] = [
    component(
      'aup-records',
      () => undefined,
      () => aupRecords.close(),
    ),
    pump,
    component('announce', () => {
      pump.emit({ type: 'agent.started', data: { agentVersion: VIGIL_VERSION, mode } });
      policy.reportLoadProblem();
    }),
    component(
      'app-control',
      () => undefined,
      () => appControl.stop(),
    ),
    status,
    ...(seatController ? [seatController] : []),
    ...(usbGate
      ? [
          component(
            'usb-gate',
            () => undefined,
            () => usbGate.stop(),
          ),
        ]
      : []),
    ...(tray ? [tray] : []),
    policy,
    notices,
    consoleSession,
  ];
  const group = new ComponentGroup(parts, log);
  await group.start();
  log.info('agent started', { deviceId: key.deviceId, console: device.consoleUrl, policyVersion: policyStore.version, mode });
  return {
    deviceId: device.deviceId,
    aupGate,
    trayIpc: tray?.ipc ?? null,
    get pendingEvents() {
      return pump.pending;
    },
    stop: () => group.stop(),
  };
}
