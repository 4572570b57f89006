import type { ExecAction } from '../shared/exec.js';
import type { Logger } from '../shared/node/log.js';
import type { SessionControlConfig } from './components/seat-controller.js';
import type { TrayConfig } from './components/tray-bridge.js';

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
  /** The outbox's cap: past it the oldest events are dropped (and counted); default 100,000. */
  outboxMaxEvents?: number;
  /** Mounts the exec gate marks when the policy names none (`--exec-mark`); default none. */
  execMarks?: string[];
  /** The exec gate's answer when no decision is made in time (default allow: fail-open). */
  execOnTimeout?: ExecAction;
  /** Session control (idle lock, logoff, console commands); off when absent. */
  session?: SessionControlConfig;
  /** udev's database directory for the USB gate (default /run/udev/data). */
  udevDataDir?: string;
  /** The tray's local socket (docs/tray.md); off when absent. */
  trayIpc?: TrayConfig;
}
