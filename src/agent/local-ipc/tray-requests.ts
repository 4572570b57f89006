import type { PowerState } from '../../shared/activity.js';
import type { NewAgentEvent } from '../../shared/events.js';
import type { MonitoringState, TrayRequest, TrayResult, TrayOp } from '../../shared/local-ipc.js';
import type { LocalIpcDrops } from '../../shared/status.js';
import type { AupGateApi, AupGateDecision } from '../aup/gate-api.js';
import type { TrayIdleReading } from '../session/tray-idle.js';
import { IpcRefusal, type TrayPeer, type TrayRequestHandler } from './server.js';
import type { TrayWatch } from './tray-watch.js';

/** What the tray's requests need from the service. */
export interface TrayServiceHost {
  mode: 'service' | 'user';
  /** The uid of the desktop session this service controls; null when session control is off. */
  sessionUid: () => number | null;
  consoleConnected: () => boolean;
  policyVersion: () => number | null;
  monitoring: () => MonitoringState;
  aupGate: () => AupGateApi | null;
  emit: (event: NewAgentEvent) => void;
  /** The session runner's lock; null when session control is off. */
  lock: (() => Promise<{ ok: boolean; detail: string }>) | null;
  watch: TrayWatch | null;
  /** Tells the console the machine sleeps or woke (reportPower in the composition root, service.ts): true if the link took it. */
  power?: (state: PowerState) => boolean;
  /** Keeps the session user's latest idle reading (session control's idle source). */
  idle?: (uid: number, reading: TrayIdleReading) => void;
  /**
   * Measures the program a pupil asks for, from the file on disk (program-identity.ts): its
   * SHA-256 and its signer as the OS reports them. Throws IpcRefusal('not-readable') when the
   * service cannot, or the asking user could not, read it.
   */
  measure: (path: string, peer: TrayPeer) => Promise<{ sha256: string; signer: string }>;
  /** Counts hello, power and idle claims from a process that is not the installed tray. */
  drops?: Pick<LocalIpcDrops, 'notTheTray'>;
  now?: () => number;
}

/** A pupil may send this many concerns (and app requests) an hour; more is refused, not queued. */
export const REPORTS_PER_HOUR = 20;

// The wire schema (local-ipc.ts) and the gate's TypeScript type must describe the same decision.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
const decisionMatchesWire: Same<AupGateDecision, TrayResult<'aup.decide'>> = true;
void decisionMatchesWire;

/**
 * Carries out tray requests for the user the kernel named. Anything that acts on the desktop
 * session (lock, the AUP answer that logs off) is for that session's user only: another local
 * user (a second login, a remote shell) gets `not-your-session` and nothing happens.
 */
export class TrayRequests implements TrayRequestHandler {
  private readonly reports = new Map<string, number[]>(); // account -> times of recent reports

  constructor(private readonly host: TrayServiceHost) {}

  async handle(request: TrayRequest, peer: TrayPeer): Promise<unknown> {
    const result = await this.dispatch(request, peer);
    return result satisfies TrayResult<TrayOp>;
  }

  disconnected(peer: TrayPeer, saidHello: boolean): void {
    if (saidHello && peer.tray !== false && peer.uid === this.host.sessionUid()) this.host.watch?.gone(peer);
  }

  private async dispatch(request: TrayRequest, peer: TrayPeer): Promise<TrayResult<TrayOp>> {
    const { host } = this;
    switch (request.op) {
      case 'hello': {
        const sessionUser = peer.uid === host.sessionUid();
        // Only the installed tray keeps the tray watch quiet: a script holding a hello open does not.
        if (sessionUser && peer.tray !== false) host.watch?.hello(peer.uid);
        else if (sessionUser && this.host.drops) this.host.drops.notTheTray++;
        return { user: peer.user, sessionUser, tray: peer.tray ?? null };
      }
      case 'status':
        return {
          user: peer.user,
          mode: host.mode,
          consoleConnected: host.consoleConnected(),
          policyVersion: host.policyVersion(),
          aupNeeded: await this.aupNeeded(peer.user),
          monitoring: host.monitoring(),
        };
      case 'aup.decide':
        return this.gate().decide(peer.user);
      case 'aup.accept':
        return this.gate().accept(peer.user, request.request);
      case 'aup.decline':
        // Declining signs the session's user out: only that user may ask for it.
        this.requireSessionUser(peer, 'answer the AUP for');
        return this.gate().decline(peer.user);
      case 'concern.report':
        this.countReport(peer);
        host.emit({ type: 'concern.reported', data: { ...request.submission, user: peer.user } });
        return { queued: true };
      case 'app.request': {
        this.countReport(peer);
        // What the console approves is what the service measured, never what the session said.
        const { sha256, signer } = await host.measure(request.ask.path, peer);
        const claimed =
          sha256 !== request.ask.sha256 || signer !== request.ask.signer ? { claimed: { sha256: request.ask.sha256, signer: request.ask.signer } } : {};
        host.emit({ type: 'app.permission-requested', data: { ...request.ask, sha256, signer, measured: true, ...claimed, user: peer.user } });
        return { queued: true };
      }
      case 'lock.now': {
        this.requireSessionUser(peer, 'lock');
        if (!host.lock) throw new IpcRefusal('unavailable', 'session control is not running on this device');
        const done = await host.lock();
        return { locked: done.ok, detail: done.detail };
      }
      // Both speak for the session: another user's tray could fake "asleep" or keep it from locking.
      case 'power.report':
        this.requireSessionUser(peer, 'report power for');
        this.requireTray(peer, 'power');
        if (!host.power) throw new IpcRefusal('unavailable', 'this service does not report power states');
        return { sent: host.power(request.state) };
      case 'idle.report':
        this.requireSessionUser(peer, 'report idle time for');
        this.requireTray(peer, 'idle time');
        if (!host.idle) throw new IpcRefusal('unavailable', 'this service does not use idle reports');
        host.idle(peer.uid, { idleSeconds: request.idleSeconds, state: request.state });
        return { recorded: true };
    }
  }

  private gate(): AupGateApi {
    const gate = this.host.aupGate();
    if (!gate) throw new IpcRefusal('unavailable', 'the AUP gate is not running on this device');
    return gate;
  }

  private async aupNeeded(user: string): Promise<boolean> {
    const gate = this.host.aupGate();
    if (!gate) return false;
    try {
      return (await gate.decide(user)).needed;
    } catch {
      return false;
    }
  }

  private requireSessionUser(peer: TrayPeer, what: string): void {
    const sessionUid = this.host.sessionUid();
    if (sessionUid === null) throw new IpcRefusal('unavailable', 'session control is not running on this device');
    if (peer.uid !== sessionUid) throw new IpcRefusal('not-your-session', `${peer.user} may not ${what} another user's session`);
  }

  private requireTray(peer: TrayPeer, what: string): void {
    if (peer.tray !== false) return;
    if (this.host.drops) this.host.drops.notTheTray++;
    throw new IpcRefusal('not-the-tray', `only the installed Vigil tray may report ${what}; this process (pid ${peer.pid}) is not it`);
  }

  private countReport(peer: TrayPeer): void {
    const now = (this.host.now ?? Date.now)();
    // By account, not uid: every Windows pipe peer has uid -1 (transport.ts pipePeer).
    const recent = (this.reports.get(peer.user) ?? []).filter((t) => now - t < 3600_000);
    if (recent.length >= REPORTS_PER_HOUR) throw new IpcRefusal('busy', 'too many reports from this account in the last hour; please talk to a teacher');
    recent.push(now);
    this.reports.set(peer.user, recent);
  }
}
