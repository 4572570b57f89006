import { TRAY_IDLE_MAX_SECONDS, type TrayOp, type TrayRequest } from '../src/shared/local-ipc.js';
import type { Logger } from '../src/shared/node/log.js';
import type { PowerMonitorLike } from './electron-api.js';
import type { ServiceConnection } from './service-connection.js';

type Fields<Op extends TrayOp> = Omit<Extract<TrayRequest, { op: Op }>, 'id' | 'op'>;
type PowerEvent = 'suspend' | 'resume' | 'lock-screen' | 'unlock-screen';

export interface PowerReportsOptions {
  powerMonitor: PowerMonitorLike;
  service: ServiceConnection;
  log: Logger;
  /** How often the idle time is sent; the service trusts a reading for 15 s (TRAY_IDLE_FRESH_MS). */
  intervalMs?: number;
  /** Seconds without input after which getSystemIdleState says 'idle' (informational). */
  idleThresholdSeconds?: number;
}

export const IDLE_REPORT_MS = 5000;

/**
 * Electron's powerMonitor, told to the service. Suspend and resume, so the console shows a
 * sleeping laptop as asleep rather than lost (Windows and macOS have no logind for the service
 * to listen to). And this session's idle time, every few seconds and at once when the screen
 * locks or unlocks or the machine wakes: the tray runs in the user's desktop session, where the
 * OS answers that question; a service in another session (Windows' session 0) cannot ask it.
 */
export class PowerReports {
  private readonly timer: NodeJS.Timeout;
  private readonly listeners: [PowerEvent, () => void][];
  private lastProblem: string | null = null;

  constructor(private readonly options: PowerReportsOptions) {
    this.listeners = [
      ['suspend', () => void this.send('power.report', { state: 'suspending' })],
      ['resume', () => void this.send('power.report', { state: 'awake' }).then(() => this.sendIdle())],
      ['lock-screen', () => void this.sendIdle()],
      ['unlock-screen', () => void this.sendIdle()],
    ];
    for (const [event, listener] of this.listeners) options.powerMonitor.on(event, listener);
    this.timer = setInterval(() => void this.sendIdle(), options.intervalMs ?? IDLE_REPORT_MS);
  }

  stop(): void {
    clearInterval(this.timer);
    for (const [event, listener] of this.listeners) this.options.powerMonitor.removeListener(event, listener);
  }

  /** Sends the idle time and state now (skipped while the service is out of reach). */
  async sendIdle(): Promise<void> {
    const { powerMonitor, service } = this.options;
    if (!service.connected) return;
    const idleSeconds = Math.min(TRAY_IDLE_MAX_SECONDS, Math.max(0, Math.floor(powerMonitor.getSystemIdleTime())));
    await this.send('idle.report', { idleSeconds, state: powerMonitor.getSystemIdleState(this.options.idleThresholdSeconds ?? 60) });
  }

  /** A refusal (another user's session, session control off) repeats every 5 s: logged once until it changes. */
  private async send<Op extends 'power.report' | 'idle.report'>(op: Op, fields: Fields<Op>): Promise<void> {
    try {
      await this.options.service.call(op, fields);
      this.lastProblem = null;
    } catch (error) {
      const problem = `${op}: ${(error as Error).message}`;
      if (problem !== this.lastProblem) this.options.log.warn('the service did not take a power report', { op, error: (error as Error).message });
      this.lastProblem = problem;
    }
  }
}
