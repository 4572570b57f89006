import type { SignerInfo } from '../../shared/app-rules.js';
import type { Logger } from '../../shared/node/log.js';
import type { PowerState } from '../../shared/activity.js';
import type { AppControlOptions, CreateFallback } from '../app-control.js';
import type { DisplayServer } from '../activity/display-server.js';
import type { WindowDetail, WindowSource } from '../activity/window-source.js';
import type { BackendCapabilities } from '../exec/rule-set.js';
import type { TrayPlatform } from '../local-ipc/transport.js';
import type { CommandRunner, SessionPlatform, SessionTarget } from '../session/platform.js';
import type { SeatSession, SessionLister } from '../session/seat.js';
import type { UsbPlatform } from '../usb/drives.js';

/**
 * Everything the agent needs from its OS, in one object per OS (platform/{linux,darwin,win32}/
 * index.ts), chosen once at start by `platformFor` in the composition root. Nothing else in the
 * agent asks which OS it runs on.
 */
export interface AgentPlatform {
  readonly os: NodeJS.Platform;
  /** Runs commands (with extra environment, e.g. the session's DISPLAY). */
  runner(env?: Record<string, string>): CommandRunner;
  readonly sessions: SessionsPlatform;
  /** The USB volume backends; null where the agent cannot enforce (not root, another OS). */
  usb(options: { udevDataDir?: string }): UsbPlatform | null;
  readonly exec: ExecPlatform;
  readonly activity: ActivityPlatform;
  readonly users: UserNames;
  /** The tray IPC's transport and peer check. */
  readonly tray: TrayPlatform;
}

export interface SessionsPlatform {
  /** Session control of one session (lock, logoff, idle, warnings); null where there is none. */
  control(target: SessionTarget, run: CommandRunner): SessionPlatform | null;
  /** Lists signed-in desktop sessions (for following sign-ins); null where there is none. */
  lister(options: { utmpFile?: string }): SessionLister | null;
  /** What session control needs to control a followed sign-in. */
  targetForSeat(seat: SeatSession): SessionTarget;
}

export interface ExecPlatform {
  /** Which rules this OS can evaluate (signers where the OS reports them). */
  readonly backend: BackendCapabilities;
  /** Why Vigil's own pre-exec gate cannot run here as the service, or null when it can. */
  gateUnavailable(): string | null;
  readonly createGate: AppControlOptions['createGate'];
  /** The watcher that ends unapproved programs after they start, where no gate runs. */
  readonly createFallback: CreateFallback;
  /** Beside a running gate: the watcher for what no mark can reach (Linux). */
  readonly createBackstop?: CreateFallback;
  /** AppLocker's path variables (Windows). */
  windowsVars?(): Record<string, string>;
  /** The OS's signer of a program file (macOS codesign, Windows Authenticode); absent where there are none (Linux). */
  signerOf?(path: string): Promise<SignerInfo | null>;
  /** The OS's own pre-launch enforcement fed with the rules (Windows AppLocker); service mode only. */
  preLaunch?(dataDir: string, log: Logger): NonNullable<AppControlOptions['preLaunch']>;
}

export interface ActivityPlatform {
  /** The window source; `env` is the session's (DISPLAY, XAUTHORITY) where that matters. */
  windowSource(env: NodeJS.ProcessEnv): (detail: WindowDetail) => WindowSource;
  displayServer(env: Readonly<Record<string, string | undefined>>): DisplayServer;
  /** Tells suspend and resume as the OS announces them, or null where the service cannot hear it. */
  sleepWatcher(onPower: (state: PowerState) => void): { start(): void; stop(): void } | null;
}

/** Account names the way this OS keeps them. */
export interface UserNames {
  /** The account name of a uid, or null when the OS has no such account (or no uids: Windows). */
  nameOf(uid: number): Promise<string | null>;
  /** The user a process runs as, for exec events where the watcher did not say; null if unknown. */
  processUser(pid: number): string | null;
}
