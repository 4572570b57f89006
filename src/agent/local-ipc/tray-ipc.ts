import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { userInfo } from 'node:os';
import type { PowerState } from '../../shared/activity.js';
import type { AgentEvent, NewAgentEvent } from '../../shared/events.js';
import type { Logger } from '../../shared/node/log.js';
import { TrayRequestSchema, type MonitoringState, type ServiceNotice, type TrayRequest } from '../../shared/local-ipc.js';
import { DEFAULT_TRAY_POLICY, type TrayPolicy } from '../../shared/tray-policy.js';
import type { AupGateApi } from '../aup/gate-api.js';
import type { TrayIdleReading } from '../session/tray-idle.js';
import type { SignerInfo } from '../../shared/app-rules.js';
import type { LocalIpcDrops } from '../../shared/status.js';
import { measureProgram } from './program-identity.js';
import { TrayIpcServer, type TrayPeer } from './server.js';
import { trayExecutableCheck } from './tray-identity.js';
import { TrayRequests } from './tray-requests.js';
import { TrayWatch, type StoppedTray } from './tray-watch.js';
import { hostTrayPlatform, trayServerTransport, type TrayPlatform } from './transport.js';

export interface TrayIpcOptions {
  /** The socket path; null in user mode, where the tray calls in-process (`direct`). Windows uses the named pipe instead. */
  path: string | null;
  /** The OS, its peer check and pipe (tests inject fakes). */
  platform?: TrayPlatform;
  /** A peer's account name from its uid, the way the OS keeps accounts (AgentPlatform.users). */
  userName: (uid: number) => string | Promise<string>;
  /** The service's AUP gate, when the service has one from the start. */
  aupGate?: AupGateApi;
  /** Starts the tray for a user again (argv; run as that user with the session's display). */
  trayCommand: string[] | null;
  mode: 'service' | 'user';
  /** The session the service controls now (it changes as pupils sign in and out). */
  session: () => { uid: number | null; display?: string; xauthority?: string };
  consoleConnected: () => boolean;
  policyVersion: () => number | null;
  policy: () => TrayPolicy | undefined;
  monitoring: () => MonitoringState;
  emit: (event: NewAgentEvent) => void;
  lock: (() => Promise<{ ok: boolean; detail: string }>) | null;
  /** The tray's powerMonitor saw the machine suspend or resume (reportPower in the composition root, service.ts). */
  power?: (state: PowerState) => boolean;
  /** The session user's tray read the idle time (kept for session control: TrayIdleReports). */
  idle?: (uid: number, reading: TrayIdleReading) => void;
  /** The installed tray executables (Linux: a peer running anything else is not the tray; tray-identity.ts). */
  trayExecutables?: readonly string[];
  /** The OS's signer of a program file (macOS codesign, Windows Authenticode), for app requests. */
  signerOf?: (path: string) => Promise<SignerInfo | null>;
  /** Where refusals and timeouts are counted (sent in the device status). */
  drops?: LocalIpcDrops;
  log: Logger;
}

export interface TrayIpc {
  /** Starts listening on the socket or pipe (nothing to do in user mode). */
  listen(): Promise<void>;
  /** The service's AUP gate (src/agent/aup/gate.ts), carried to the tray's AUP window. */
  setAupGate(gate: AupGateApi | null): void;
  /** Every event the service emits: blocks and logoff warnings become notices to the user's tray. */
  onEvent(event: NewAgentEvent | AgentEvent): void;
  /** A new AUP arrived: every tray re-asks the gate (and shows it if its user must accept). */
  aupChanged(): void;
  /** Whether this user has a tray that can show the AUP window (in user mode: the one user there is). */
  hasTrayFor(user: string): boolean;
  /** A USB drive decision the pupil must hear about: shown by the tray(s) of the session's user. */
  onUsbNotice(notice: { title: string; why: string; whatToDo: string }): void;
  /** User mode: the tray and the service share a process, so requests need no socket. */
  direct(request: TrayRequest): Promise<unknown>;
  /** User mode: notices for the one user there is. */
  readonly notices: EventEmitter<{ notice: [ServiceNotice] }>;
  close(): Promise<void>;
}

/** The tray IPC, listening. */
export async function startTrayIpc(options: TrayIpcOptions): Promise<TrayIpc> {
  const ipc = createTrayIpc(options);
  await ipc.listen();
  return ipc;
}

/**
 * The tray IPC of the root/SYSTEM service: socket or pipe (transport.ts), request handling and
 * the tray watch. The transport is chosen (and its addon loaded) here, so a missing addon stops
 * the service's start with the reason rather than refusing every tray later.
 */
export function createTrayIpc(options: TrayIpcOptions): TrayIpc {
  let gate: AupGateApi | null = options.aupGate ?? null;
  const sessionUid = () => options.session().uid;
  const watch = new TrayWatch({
    policy: () => options.policy() ?? DEFAULT_TRAY_POLICY,
    emit: options.emit,
    restart: (tray) => restartTray(options, tray),
    lock: options.lock,
    log: options.log.child('tray-watch'),
  });
  const requests = new TrayRequests({
    mode: options.mode,
    sessionUid,
    consoleConnected: options.consoleConnected,
    policyVersion: options.policyVersion,
    monitoring: options.monitoring,
    aupGate: () => gate,
    emit: options.emit,
    lock: options.lock,
    watch,
    power: options.power,
    idle: options.idle,
    measure: (path, peer) => measureProgram(path, peer, options.signerOf),
    drops: options.drops,
  });
  // Chosen (and its addon loaded) now: fail at start, with the reason, rather than refuse every tray later.
  const transport = options.path ? trayServerTransport(options.path, options.platform ?? hostTrayPlatform) : null;
  const server = transport
    ? new TrayIpcServer({
        path: transport.path,
        handler: requests,
        credentialsOf: transport.kind === 'unix-socket' ? transport.credentialsOf : refuseUnnamed,
        ...(transport.kind === 'named-pipe' ? { listener: transport.listener } : {}),
        userName: options.userName,
        isTray: trayExecutableCheck(options.trayExecutables ?? [], (options.platform ?? hostTrayPlatform).platform),
        drops: options.drops,
        log: options.log,
      })
    : null;
  // In user mode the peer is this process itself: the signed-in user running the tray.
  const self: TrayPeer = { pid: process.pid, uid: process.getuid?.() ?? -1, gid: process.getgid?.() ?? -1, user: userInfo().username };
  const notices = new EventEmitter<{ notice: [ServiceNotice] }>();
  const notifyUser = (user: string, notice: ServiceNotice) => (server ? server.notifyUser(user, notice) : user === self.user && notices.emit('notice', notice));
  const notifySession = (notice: ServiceNotice) =>
    server ? ((uid) => uid !== null && server.notify(uid, notice))(sessionUid()) : notices.emit('notice', notice);
  return {
    listen: async () => void (await server?.listen()),
    notices,
    aupChanged: () =>
      void (server ? server.notifyAll({ kind: 'notice', notice: 'aup.needed' }) : notices.emit('notice', { kind: 'notice', notice: 'aup.needed' })),
    direct: (request) => requests.handle(TrayRequestSchema.parse(request), self),
    setAupGate: (g) => void (gate = g),
    onUsbNotice: ({ title, why, whatToDo }) => void notifySession({ kind: 'notice', notice: 'usb.drive', title, why, whatToDo }),
    hasTrayFor: (user) => (server ? server.hasTrayFor(user) : user === self.user),
    onEvent(event) {
      // Blocked before it started (gate) or stopped just after (fallback watcher): the pupil hears the same.
      if ((event.type === 'app.blocked' || event.type === 'app.killed') && event.data.user) {
        const { name, path, sha256, signer, mode } = event.data;
        notifyUser(event.data.user, { kind: 'notice', notice: 'app.blocked', program: { name, path, sha256, signer, mode } });
      } else if (event.type === 'session.action' && event.data.action === 'warn') {
        notifySession({ kind: 'notice', notice: 'session.warning', text: event.data.detail });
      }
    },
    async close() {
      watch.stop();
      await server?.close();
    },
  };
}

/** A pipe connection always arrives named; one that does not is refused. */
function refuseUnnamed(): never {
  throw new Error('a pipe connection arrived without the identity of its process');
}

/**
 * Starts the tray as the user, in the session's display, detached from the service. Linux only
 * (setpriv from util-linux drops to the user's uid, gid and groups); the installers set the command.
 */
async function restartTray(options: TrayIpcOptions, { user, uid, gid }: StoppedTray): Promise<{ ok: boolean; detail: string }> {
  if (!options.trayCommand?.length) return { ok: false, detail: 'no tray command is configured (--tray-command)' };
  const os = (options.platform ?? hostTrayPlatform).platform;
  if (os !== 'linux') return { ok: false, detail: `restarting the tray is not implemented on ${os}` };
  const env: Record<string, string> = { PATH: '/usr/local/bin:/usr/bin:/bin', USER: user, LOGNAME: user };
  const session = options.session();
  if (session.display) env.DISPLAY = session.display;
  if (session.xauthority) env.XAUTHORITY = session.xauthority;
  const child = spawn('setpriv', ['--reuid', String(uid), '--regid', String(gid), '--init-groups', '--', ...options.trayCommand], {
    env,
    detached: true,
    stdio: 'ignore',
  });
  return new Promise((resolve) => {
    child.once('error', (error) => resolve({ ok: false, detail: error.message }));
    child.once('spawn', () => {
      child.unref();
      resolve({ ok: true, detail: `started ${options.trayCommand![0]} (pid ${child.pid})` });
    });
  });
}
