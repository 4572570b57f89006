/**
 * The ports session control talks to. Each OS implements them with its own commands
 * (src/agent/platform/<os>/session); the core and the runner never call the OS themselves.
 */

/** Result of a finished command. `code` is null when it was killed or could not start. */
export interface CommandOutput {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A long-lived process we started (a locker, a warning window). */
export interface StartedProcess {
  pid: number | null;
  alive(): boolean;
  exited: Promise<number | null>;
  /** Ends this process (and only this one: we know its pid because we started it). */
  stop(): void;
}

/** How to run one command; without options it gets the runner's environment. */
export interface RunOptions {
  /** The program's whole environment: nothing of the agent's own is passed on. */
  env?: Record<string, string>;
}

/** Runs OS commands. Injected so tests can record command lines instead of running them. */
export interface CommandRunner {
  run(command: string, args: readonly string[], timeoutMs?: number, options?: RunOptions): Promise<CommandOutput>;
  start(command: string, args: readonly string[], options?: RunOptions): StartedProcess;
  /** Whether the program is installed (on PATH). */
  has(command: string): boolean;
}

export interface IdleSource {
  readonly name: string;
  /** Milliseconds since the last input in the session, or null if it cannot be read now. */
  idleMs(): Promise<number | null>;
}

export interface LockOutcome {
  ok: boolean;
  detail: string;
  /** For lockers we keep running (i3lock -n): whether the screen is still locked. */
  isLocked?: () => boolean;
  /** Ends a locker we started, for when the session itself is ended. */
  release?: () => void;
}

export interface Locker {
  readonly name: string;
  available(): boolean;
  lock(): Promise<LockOutcome>;
}

export interface LogoffBackend {
  readonly name: string;
  available(): boolean;
  logoff(): Promise<{ ok: boolean; detail: string }>;
}

/** The countdown window and plain messages. The tray app will host the real ones. */
export interface WarningDisplay {
  readonly name: string;
  available(): boolean;
  /** Shows (or replaces) the countdown; `onPostpone` runs if the pupil asks for more time. */
  show(text: string, canPostpone: boolean, onPostpone: () => void): void;
  hide(): void;
  message(text: string): Promise<{ ok: boolean; detail: string }>;
}

export interface SessionPlatform {
  readonly platform: string;
  idle: IdleSource | null;
  /** In order of preference: the first that works is used, the next on failure. */
  lockers: Locker[];
  logoff: LogoffBackend[];
  warning: WarningDisplay | null;
}

/** Which session the agent controls. */
export interface SessionTarget {
  /** X display (Linux), e.g. ":0". */
  display?: string;
  xauthority?: string;
  /** The session user's uid: logoff ends only that user's processes. */
  uid?: number;
  /** logind / Windows session id, when known. */
  sessionId?: string;
}
