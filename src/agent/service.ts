import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Backoff } from '../shared/backoff.js';
import type { AgentEvent, NewAgentEvent } from '../shared/events.js';
import { ensurePrivateDir } from '../shared/files.js';
import { LIMITS } from '../shared/limits.js';
import type { Logger } from '../shared/log.js';
import type { PolicyBundle } from '../shared/policy.js';
import { policyDigest } from '../shared/policy-verify.js';
import { AGENT_WS_PATH, PROTOCOL_VERSION } from '../shared/protocol.js';
import type { DeviceStatus } from '../shared/status.js';
import { VIGIL_VERSION } from '../shared/version.js';
import { enrollAndSave, EnrollError } from './enroll.js';
import { loadOrCreateDeviceKey, paths, readDeviceFile, type DeviceFile } from './identity.js';
import { AgentLink } from './link.js';
import { Outbox } from './outbox.js';
import { signedInSessions, systemFacts } from './platform/sysinfo.js';
import { PolicyStore } from './policy-store.js';
import { AupStore } from './aup/aup-store.js';
import type { SignedAup } from '../shared/aup.js';
import type { ExecAction } from '../shared/exec.js';
import { AppControl } from './app-control.js';
import { backendFor, createExecFallback, createGateBackstop, windowsPathVars } from './platform/exec-fallback.js';
import { appLockerApplier } from './platform/win32/exec-control.js';
import { LinuxExecGate } from './platform/linux/exec-gate.js';
import { processUser } from './platform/linux/proc-user.js';
import type { CommandOutcome } from '../shared/command.js';
import type { Ownership } from '../shared/session.js';
import { CommandGate } from './commands.js';
import { nodeCommandRunner } from './session/node-runner.js';
import type { SessionPlatform, SessionTarget } from './session/platform.js';
import { SessionRunner } from './session/runner.js';
import { preferTrayIdle, TrayIdleReports } from './session/tray-idle.js';
import { systemClock } from './session/clock.js';
import { sessionListerFor, sessionPlatformFor, targetForSeat } from './platform/session.js';
import { startUsbGate } from './usb/host.js';
import type { UsbGate } from './usb/usb-gate.js';
import type { UsbNotice } from './usb/notices.js';
import { startActivity, type ActivityHost } from './activity/host.js';
import type { PowerState } from '../shared/activity.js';
import { describeSharing } from '../shared/activity-words.js';
import type { MonitoringState } from '../shared/local-ipc.js';
import { AcceptanceRecords } from './aup/acceptances.js';
import { AupAcceptanceQueries } from './aup/console-query.js';
import { AupGate, aupToShow } from './aup/gate.js';
import type { AupGateApi } from './aup/gate-api.js';
import { SeatWatcher, type SeatChange } from './session/seat.js';
import { startTrayIpc, type TrayIpc } from './local-ipc/tray-ipc.js';

export interface AgentConfig {
  dataDir: string;
  /** Needed only for the first start (enrollment); afterwards device.json has it. */
  consoleUrl?: string;
  enrollToken?: string;
  pinnedConsoleKey?: string;
  mode: 'service' | 'user';
  log: Logger;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** How often the outbox is checked for events written by other processes. */
  outboxPollMs?: number;
  /** Mounts the exec gate marks when the policy names none (`--exec-mark`); default none. */
  execMarks?: string[];
  /** The exec gate's answer when no decision is made in time (default allow: fail-open). */
  execOnTimeout?: ExecAction;
  /** Session control (idle lock, logoff, console commands); off when absent. */
  session?: {
    /** The one session to control (`--session-*`); ignored when following sign-ins. */
    target?: SessionTarget;
    /** Follow whoever signs in at the seat (`--follow-sessions`) instead of a fixed session. */
    follow?: { utmpFile?: string; intervalMs?: number };
    ownership: Ownership;
    platform?: SessionPlatform;
  };
  /** udev's database directory for the USB gate (default /run/udev/data). */
  udevDataDir?: string;
  /** The tray's local socket (docs/tray.md); off when absent. */
  trayIpc?: { path: string | null; trayCommand?: string[] };
}

const BATCHES_IN_FLIGHT = 4;
const ACK_TIMEOUT_MS = 30_000;

/**
 * The agent service: device identity, the console link, the last good policy and the durable
 * outbox. Enforcers (later capabilities) subscribe to `onPolicy` and report through `emit`.
 */
export class AgentService {
  private link: AgentLink | null = null;
  private outbox: Outbox | null = null;
  private policy: PolicyStore | null = null;
  private aupStore: AupStore | null = null;
  private appControl: AppControl | null = null;
  private commands: CommandGate | null = null;
  private session: SessionRunner | null = null;
  /** The session `session` controls (the tray binds requests and restarts to it). */
  private sessionTarget: SessionTarget | null = null;
  private usbGate: UsbGate | null = null;
  private activity: ActivityHost | null = null;
  /** The user of the session `session` controls, when known. */
  private sessionUser: string | null = null;
  private seatWatcher: SeatWatcher | null = null;
  private aupRecords: AcceptanceRecords | null = null;
  private aupQueries: AupAcceptanceQueries | null = null;
  private gate: AupGate | null = null;
  /**
   * Set by the tray's local IPC: whether a tray runs in this user's session and can show the
   * AUP window. While none can, a sign-in that needs the AUP is reported as `aup.pending`.
   */
  trayConnected: (user: string) => boolean = () => false;
  private tray: TrayIpc | null = null;
  /** The session user's tray idle readings: session control's first idle source (docs/sessions.md). */
  private readonly trayIdle = new TrayIdleReports(systemClock.monoNow);
  private device: DeviceFile | null = null;
  private readonly inFlight = new Map<number, number>(); // seq -> sent at
  private timers: NodeJS.Timeout[] = [];
  private statusTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  readonly policyListeners: ((bundle: PolicyBundle) => void)[] = [];

  constructor(private readonly config: AgentConfig) {}

  get deviceId(): string | null {
    return this.device?.deviceId ?? null;
  }

  get policyVersion(): number | null {
    return this.policy?.version ?? null;
  }

  get pendingEvents(): number {
    return this.outbox?.count() ?? 0;
  }

  async start(): Promise<void> {
    const { dataDir, log } = this.config;
    ensurePrivateDir(dataDir);
    const key = loadOrCreateDeviceKey(dataDir);
    this.device = readDeviceFile(dataDir) ?? (await this.enrollWithRetry(key));
    const p = paths(dataDir);
    this.outbox = new Outbox(p.outbox);
    this.policy = new PolicyStore(p.policy, this.device.consolePublicKey);
    this.aupStore = new AupStore(p.aup, this.device.consolePublicKey);
    this.startAupGate(key, p.aupAcceptances);
    this.emit({ type: 'agent.started', data: { agentVersion: VIGIL_VERSION, mode: this.config.mode } });
    this.startAppControl(this.device.deviceId);
    if (this.policy.loadProblem) {
      log.warn(this.policy.loadProblem);
      this.emit({ type: 'console.protocol-error', data: { detail: this.policy.loadProblem } });
    }
    this.commands = new CommandGate(p.commandsSeen, key.deviceId, this.device.consolePublicKey);
    this.startSessionControl();
    this.usbGate = startUsbGate(this, this.config, () => this.session);
    if (this.config.trayIpc) {
      this.tray = await this.startTray(this.config.trayIpc);
      this.tray.setAupGate(this.aupGate);
      this.onUsbNotice((notice) => this.tray?.onUsbNotice(notice));
      this.trayConnected = (user) => this.tray?.hasTrayFor(user) ?? false;
    }
    if (this.policy.bundle) this.notifyPolicy(this.policy.bundle);

    const wsUrl = new URL(AGENT_WS_PATH, this.device.consoleUrl);
    wsUrl.protocol = wsUrl.protocol === 'https:' ? 'wss:' : 'ws:';
    this.link = new AgentLink({
      url: wsUrl.toString(),
      deviceId: key.deviceId,
      privateKey: key.privateKey,
      publicKey: key.publicKey,
      consolePublicKey: this.device.consolePublicKey,
      backoffBaseMs: this.config.backoffBaseMs,
      backoffMaxMs: this.config.backoffMaxMs,
      log: log.child('link'),
    });
    this.link.on('ready', () => void this.onReady());
    this.link.on('down', () => (this.inFlight.clear(), this.aupQueries?.linkDown()));
    this.aupQueries = new AupAcceptanceQueries(this.link);
    this.link.on('message', (message) => {
      switch (message.type) {
        case 'policy':
          return this.onPolicy(message.bundle);
        case 'events.ack':
          return this.onAck(message.seqs);
        case 'aup':
          return this.onAup(message.aup);
        case 'command':
          return void this.onCommand(message.command);
        case 'aup.status':
          return this.aupQueries?.answer(message);
        case 'error':
          return log.warn('console reported an error', { code: message.code, message: message.message });
        case 'auth.error':
          return;
      }
    });
    this.link.start();
    this.timers.push(setInterval(() => this.pump(), this.config.outboxPollMs ?? 250));
    this.timers.push(setInterval(() => this.checkExpiry(), 60_000));
    this.checkExpiry();
    log.info('agent started', { deviceId: key.deviceId, console: this.device.consoleUrl, policyVersion: this.policy.version, mode: this.config.mode });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.session?.stop();
    this.activity?.stop();
    this.seatWatcher?.stop();
    await this.tray?.close();
    this.timers.forEach(clearInterval);
    if (this.statusTimer) clearInterval(this.statusTimer);
    this.appControl?.stop();
    this.usbGate?.stop();
    this.link?.stop();
    this.outbox?.close();
    this.aupRecords?.close();
  }

  /** The exec gate follows the policy: started, changed live, or stopped with each bundle. */
  private startAppControl(deviceId: string): void {
    const unavailable =
      this.config.mode === 'user'
        ? 'user mode (no administrator rights): programs cannot be checked before they start'
        : process.platform === 'win32'
          ? "Vigil's own gate is Linux-only; AppLocker, applied from the policy, blocks before launch on editions that have it"
          : process.platform === 'darwin'
            ? 'Endpoint Security needs an Apple-granted entitlement'
            : process.platform !== 'linux'
              ? `no pre-exec gate for ${process.platform}`
          : process.getuid?.() !== 0
            ? 'the agent is not running as root'
            : null;
    const runner = nodeCommandRunner();
    const appControl = new AppControl({
      deviceId,
      configMarks: this.config.execMarks ?? [],
      onTimeout: this.config.execOnTimeout ?? 'allow',
      unavailable,
      createGate: (options) => new LinuxExecGate(options),
      createFallback: (options) => createExecFallback(options, runner),
      ...(process.platform === 'linux' ? { createBackstop: createGateBackstop } : {}),
      backend: backendFor(process.platform),
      ...(process.platform === 'win32'
        ? { windowsVars: windowsPathVars(), ...(this.config.mode === 'user' ? {} : { preLaunch: appLockerApplier(runner, join(this.config.dataDir, 'applocker'), this.config.log.child('applocker')) }) }
        : {}),
      userOf: processUser,
      emit: (event) => this.emit(event),
      log: this.config.log.child('app-control'),
    });
    this.appControl = appControl;
    this.policyListeners.push((bundle) => {
      appControl.apply(bundle.payload.policy);
      void this.sendStatus();
    });
  }

  /** Pupil notices about USB drives (for the tray); returns the unsubscribe function. */
  onUsbNotice(listener: (notice: UsbNotice) => void): () => void {
    return this.usbGate?.onNotice(listener) ?? (() => undefined);
  }

  /** Queues an event durably; it is sent when the link is up. */
  emit(event: NewAgentEvent): void {
    this.outbox!.append([event]);
    this.tray?.onEvent(event);
    this.pump();
  }

  /** The tray IPC, for the AUP gate to be handed to (`trayIpc.setAupGate(gate)`). */
  get trayIpc(): TrayIpc | null {
    return this.tray;
  }

  private startTray(options: { path: string | null; trayCommand?: string[] }): Promise<TrayIpc> {
    const policy = () => this.policy?.bundle?.payload.policy;
    return startTrayIpc({
      path: options.path,
      trayCommand: options.trayCommand ?? null,
      mode: this.config.mode,
      session: () => ({ uid: this.sessionTarget?.uid ?? null, display: this.sessionTarget?.display, xauthority: this.sessionTarget?.xauthority }),
      consoleConnected: () => !!this.link?.canSend,
      policyVersion: () => this.policyVersion,
      policy: () => policy()?.tray,
      monitoring: () => ({
        appControl: this.appControl?.status ?? null,
        idleLockSeconds: this.session ? (policy()?.session?.lockAfterIdleSeconds ?? 300) : null,
        // The activity collector's live state goes here once it runs in the service (activity issue).
        activity: this.activityForTray(),
        usbControl: !!this.usbGate,
      }),
      emit: (event) => this.emit(event),
      lock: async () => (this.session ? this.session.command('lock') : { ok: false, detail: 'session control is not running on this device' }),
      power: (state) => this.reportPower(state),
      idle: (uid, reading) => this.trayIdle.record(uid, reading),
      log: this.config.log.child('tray'),
    });
  }

  private async enrollWithRetry(key: ReturnType<typeof loadOrCreateDeviceKey>): Promise<DeviceFile> {
    const { consoleUrl, enrollToken, log } = this.config;
    if (!consoleUrl || !enrollToken) {
      throw new EnrollError('this device is not enrolled: give --console and --enroll-token (or /etc/vigil/enroll.json)');
    }
    const backoff = new Backoff(1000, 60_000);
    for (;;) {
      try {
        const device = await enrollAndSave({ dataDir: this.config.dataDir, consoleUrl, token: enrollToken, key, pinnedConsoleKey: this.config.pinnedConsoleKey });
        log.info('enrolled with console', { deviceId: device.deviceId, console: consoleUrl });
        return device;
      } catch (error) {
        // A refusal is final; an unreachable console is worth waiting for.
        if (!(error instanceof EnrollError) || !/cannot reach/.test(error.message) || this.stopped) throw error;
        const delay = backoff.next();
        log.warn(`${error.message}; retrying in ${Math.round(delay / 1000)} s`);
        await sleep(delay);
      }
    }
  }

  private async onReady(): Promise<void> {
    this.inFlight.clear();
    this.link!.send({
      v: PROTOCOL_VERSION,
      type: 'hello',
      agentVersion: VIGIL_VERSION,
      policyVersion: this.policy!.version,
      policyDigest: this.policy!.bundle ? policyDigest(this.policy!.bundle.payload) : null,
      mode: this.config.mode,
      capabilities: this.session ? ['events', 'policy', 'session', 'commands', ...(this.activity ? ['activity'] : [])] : ['events', 'policy'],
    });
    await this.sendStatus();
    this.activity?.sampler.resend();
    this.scheduleStatus();
    this.pump();
  }

  private scheduleStatus(): void {
    if (this.statusTimer) clearInterval(this.statusTimer);
    const seconds = this.policy?.bundle?.payload.policy.agent.statusSeconds ?? 60;
    this.statusTimer = setInterval(() => void this.sendStatus(), seconds * 1000);
  }

  async collectStatus(): Promise<DeviceStatus> {
    const [facts, sessions] = await Promise.all([systemFacts(), signedInSessions()]);
    return {
      hostname: facts.hostname,
      os: { platform: facts.platform, release: facts.release, distro: facts.distro, arch: facts.arch },
      user: sessions.seatUser,
      users: sessions.users,
      uptimeSeconds: facts.uptimeSeconds,
      agentVersion: VIGIL_VERSION,
      policyVersion: this.policy?.version ?? null,
      ...(this.appControl ? { appControl: this.appControl.status } : {}),
      collectedAt: new Date().toISOString(),
    };
  }

  private async sendStatus(): Promise<void> {
    try {
      this.link?.send({ v: PROTOCOL_VERSION, type: 'status', status: await this.collectStatus() });
    } catch (error) {
      this.config.log.warn('could not collect device status', { error });
    }
  }

  private onPolicy(candidate: unknown): void {
    const result = this.policy!.offer(candidate);
    const { log } = this.config;
    if (result.outcome === 'rejected') {
      const { rejection, kept } = result;
      log.warn('rejected policy bundle', { reason: rejection.reason, detail: rejection.detail, keptVersion: kept?.payload.version ?? null });
      this.emit({
        type: 'policy.rejected',
        data: { version: rejection.version ?? null, reason: rejection.reason, detail: rejection.detail, keptVersion: kept?.payload.version ?? null },
      });
      return;
    }
    const version = result.bundle.payload.version;
    if (result.outcome === 'applied') {
      log.info('applied policy', { version, name: result.bundle.payload.policy.name });
      this.emit({ type: 'policy.applied', data: { version } });
      this.notifyPolicy(result.bundle);
      this.link?.setHeartbeatSeconds(result.bundle.payload.policy.agent.heartbeatSeconds);
      this.scheduleStatus();
    }
    this.link?.send({ v: PROTOCOL_VERSION, type: 'policy.ack', version });
  }

  /** The AUP the gate shows at sign-in (null until the console has sent one). */
  get aup(): SignedAup | null {
    return this.aupStore?.aup ?? null;
  }

  private onAup(candidate: unknown): void {
    const result = this.aupStore!.offer(candidate);
    if (result.outcome === 'rejected') {
      this.config.log.warn('refused an AUP document', { reason: result.rejection.reason, detail: result.rejection.detail });
      this.emit({ type: 'aup.rejected', data: { reason: result.rejection.reason, detail: result.rejection.detail } });
    } else if (result.outcome === 'stored') {
      this.config.log.info('stored AUP', { variant: result.aup.payload.variant, version: result.aup.payload.version });
      // A new version asks again, also whoever is signed in right now.
      if (this.sessionUser) void this.checkAup(this.sessionUser);
      this.tray?.aupChanged();
    }
  }

  /** The AUP gate (for the tray's local IPC); null before start. */
  get aupGate(): AupGateApi | null {
    return this.gate;
  }

  private startAupGate(key: ReturnType<typeof loadOrCreateDeviceKey>, recordsFile: string): void {
    this.aupRecords = new AcceptanceRecords(recordsFile);
    this.gate = new AupGate({
      deviceId: key.deviceId,
      key,
      aup: () => aupToShow(this.policy?.bundle ?? null, this.aupStore?.aup ?? null),
      school: () => this.policy?.bundle?.payload.policy.aup?.schoolName ?? '',
      records: this.aupRecords,
      askConsole: (user, hash) => this.aupQueries?.ask(user, hash) ?? Promise.resolve({ kind: 'offline' }),
      emit: (event) => this.emit(event),
      logoff: (user) => this.logoffForAup(user),
      log: this.config.log.child('aup-gate'),
    });
  }

  /** A user is now at the seat: decide the AUP gate, and report it if nothing can show the page. */
  private async checkAup(user: string): Promise<void> {
    try {
      const decision = await this.gate!.decide(user);
      this.config.log.info('AUP gate decided', { user, needed: decision.needed, reason: decision.reason });
      if (!decision.needed || this.trayConnected(user)) return;
      const { variant, version, offline } = decision.page;
      this.emit({ type: 'aup.pending', data: { user, variant, version, reason: decision.reason, offline } });
    } catch (error) {
      this.config.log.warn('could not decide the AUP gate', { user, error });
    }
  }

  /** Declining the AUP signs out that user's session, and only theirs. */
  private async logoffForAup(user: string): Promise<{ ok: boolean; detail: string }> {
    if (!this.session) return { ok: false, detail: 'session control is not running on this device' };
    if (this.sessionUser !== null && this.sessionUser !== user) return { ok: false, detail: `${user} is not the user of the session this device controls` };
    const done = await this.session.logoffNow('aup-declined');
    return { ok: done.ok, detail: done.detail };
  }

  private startSessionControl(): void {
    const options = this.config.session;
    if (!options) return;
    this.policyListeners.push((bundle) => this.session?.applyPolicy(bundle.payload.policy.session));
    this.policyListeners.push((bundle) => this.activity?.sampler.applyPolicy(bundle.payload.policy.activity));
    if (options.follow) return this.followSignIns(options.follow);
    this.controlSession(options.target ?? {}, options.platform);
    const uid = options.target?.uid;
    if (uid !== undefined && process.platform !== 'win32') {
      void nodeCommandRunner()
        .run('id', ['-nu', String(uid)])
        .then((out) => {
          const user = out.stdout.trim();
          if (out.code !== 0 || !user) return;
          this.sessionUser = user;
          return this.checkAup(user);
        });
    }
  }

  private followSignIns(follow: { utmpFile?: string; intervalMs?: number }): void {
    const lister = sessionListerFor(process.platform, nodeCommandRunner(), { utmpFile: follow.utmpFile });
    if (!lister) {
      this.config.log.warn('following sign-ins is not available on this platform', { platform: process.platform });
      return;
    }
    this.seatWatcher = new SeatWatcher({ lister, intervalMs: follow.intervalMs, log: this.config.log.child('seat'), onChange: (change) => this.onSeatChange(change) });
    this.seatWatcher.start();
    this.config.log.info('following sign-ins', { lister: lister.name });
  }

  /** Session control and the AUP gate move to whoever is now at the seat. */
  private async onSeatChange(change: SeatChange): Promise<void> {
    const { log } = this.config;
    for (const s of change.started) log.info('session started', { user: s.user, id: s.id, display: s.display ?? null, local: s.local });
    for (const s of change.ended) log.info('session ended', { user: s.user, id: s.id });
    if (!change.seatChanged) return;
    this.session?.retire();
    this.session = null;
    this.sessionTarget = null;
    this.activity?.stop();
    this.activity = null;
    this.sessionUser = null;
    const seat = change.seat;
    if (!seat) return;
    if (this.controlSession(targetForSeat(process.platform, seat))) {
      this.sessionUser = seat.user;
      // At start-up the held policy reaches the runner through notifyPolicy; a later sign-in's runner gets it here.
      const bundle = this.policy?.bundle;
      if (bundle) this.session!.applyPolicy(bundle.payload.policy.session);
    }
    await this.checkAup(seat.user);
  }

  /** Starts session control of one session; false if this platform has none. */
  private controlSession(target: SessionTarget, injected?: SessionPlatform): boolean {
    const options = this.config.session!;
    const { display, xauthority } = target;
    const env: Record<string, string> = {};
    if (display) env.DISPLAY = display;
    if (xauthority) env.XAUTHORITY = xauthority;
    const platform = injected ?? sessionPlatformFor(process.platform, nodeCommandRunner(env), target);
    if (!platform) {
      this.config.log.warn('session control is not available on this platform', { platform: process.platform });
      return false;
    }
    this.sessionTarget = target;
    const withTrayIdle = { ...platform, idle: preferTrayIdle(platform.idle, this.trayIdle, () => target.uid) };
    this.session = new SessionRunner({ platform: withTrayIdle, ownership: options.ownership, emit: (e) => this.emit(e), log: this.config.log.child('session') });
    this.session.start();
    this.activity?.stop();
    this.startActivity(target, options.ownership);
    return true;
  }

  /** Activity reporting runs alongside session control, reading its idle time and lock state. */
  private startActivity(target: SessionTarget, ownership: Ownership): void {
    this.activity = startActivity({
      target,
      ownership,
      session: () => this.session?.observed ?? null,
      emit: (e) => this.emit(e),
      sendNow: (now) => this.link?.send({ v: PROTOCOL_VERSION, type: 'activity', now }),
      sendPower: (state) => this.reportPower(state),
      log: this.config.log.child('activity'),
    });
    const bundle = this.policy?.bundle;
    if (bundle) this.activity.sampler.applyPolicy(bundle.payload.policy.activity);
  }

  /** Activity reporting as the tray tells the pupil: what is shared now, in plain words. */
  private activityForTray(): MonitoringState['activity'] {
    const sampler = this.activity?.sampler;
    if (!sampler) return null;
    const now = sampler.now;
    const ownership = this.config.session?.ownership ?? 'school';
    const words = describeSharing(now, this.policy?.bundle?.payload.policy.activity ?? null, ownership);
    return { collecting: now.collecting, mode: now.mode, pausedReason: now.pausedReason, words };
  }

  /** Tells the console the machine is about to sleep, or woke (logind here; the tray's powerMonitor). */
  reportPower(state: PowerState): boolean {
    this.config.log.info('power state', { state });
    return this.link?.send({ v: PROTOCOL_VERSION, type: 'power', state }) ?? false;
  }

  /** A console command: verified, recorded, carried out, answered with its result. */
  private async onCommand(raw: unknown): Promise<void> {
    const check = this.commands!.check(raw);
    let result: { id: string | null; action: string | null; outcome: CommandOutcome; detail: string; backend: string | null };
    if (!check.ok) {
      this.config.log.warn('refused a console command', { id: check.id, outcome: check.outcome, detail: check.detail });
      result = { id: check.id, action: check.action, outcome: check.outcome, detail: check.detail, backend: null };
    } else if (!this.session) {
      result = { id: check.command.id, action: check.command.action, outcome: 'unsupported', detail: 'session control is not running on this device', backend: null };
    } else {
      const { id, action, text } = check.command;
      this.config.log.info('carrying out console command', { id, action, by: check.command.issuedBy });
      const done = await this.session.command(action, text);
      result = { id, action, outcome: done.ok ? 'done' : 'failed', detail: done.detail, backend: done.backend };
    }
    this.emit({ type: 'command.received', data: { id: result.id, action: result.action, outcome: result.outcome, detail: result.detail } });
    this.link?.send({ v: PROTOCOL_VERSION, type: 'command.result', id: result.id, outcome: result.outcome, detail: result.detail, backend: result.backend });
  }

  private reportedExpiry: number | null = null;

  /** The held bundle may expire while the console is unreachable: keep it, and say so once. */
  private checkExpiry(): void {
    const bundle = this.policy?.bundle;
    if (!bundle || Date.parse(bundle.payload.expiresAt) > Date.now() || this.reportedExpiry === bundle.payload.version) return;
    this.reportedExpiry = bundle.payload.version;
    this.config.log.warn('the policy this device enforces has expired; keeping it until the console sends a new one', {
      version: bundle.payload.version,
      expiredAt: bundle.payload.expiresAt,
    });
    this.emit({ type: 'policy.expired', data: { version: bundle.payload.version, expiredAt: bundle.payload.expiresAt } });
  }

  private notifyPolicy(bundle: PolicyBundle): void {
    for (const listener of this.policyListeners) {
      try {
        listener(bundle);
      } catch (error) {
        this.config.log.error('policy listener failed', { error });
      }
    }
  }

  private onAck(seqs: number[]): void {
    const known = seqs.filter((seq) => this.inFlight.has(seq));
    this.outbox!.acknowledge(known);
    known.forEach((seq) => this.inFlight.delete(seq));
    this.pump();
  }

  /** Sends pending events, keeping a few batches in flight; re-sends whatever is never acked. */
  private pump(): void {
    if (!this.link?.canSend || !this.outbox) return;
    const now = Date.now();
    for (const [seq, sentAt] of this.inFlight) {
      if (now - sentAt > ACK_TIMEOUT_MS) {
        this.inFlight.clear(); // start again from the oldest unacked; the console drops duplicates
        break;
      }
    }
    while (this.inFlight.size < BATCHES_IN_FLIGHT * LIMITS.eventsPerBatch) {
      const after = this.inFlight.size ? Math.max(...this.inFlight.keys()) : 0;
      const candidates: AgentEvent[] = this.outbox.pending(LIMITS.eventsPerBatch, after);
      if (!candidates.length) return;
      // Cut the batch by encoded size too, so it always fits in one frame.
      const batch: AgentEvent[] = [];
      let bytes = 0;
      for (const event of candidates) {
        const size = Buffer.byteLength(JSON.stringify(event));
        if (batch.length && bytes + size > LIMITS.eventBatchBytes) break;
        batch.push(event);
        bytes += size;
      }
      if (!this.link.send({ v: PROTOCOL_VERSION, type: 'events', events: batch })) return;
      batch.forEach((e) => this.inFlight.set(e.seq, now));
    }
  }
}
