import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { PowerState } from '../../shared/activity.js';
import { forEachLine } from './child-lines.js';

/**
 * Suspend and resume from systemd-logind: it emits PrepareForSleep(true) just before the
 * machine sleeps and PrepareForSleep(false) after it wakes. We read them with `dbus-monitor`
 * (one long-lived process, no D-Bus library) and turn them into the `power` frame, so the
 * console shows a sleeping laptop as asleep rather than lost. The tray does the same from
 * Electron's powerMonitor on Windows and macOS.
 */
export const LOGIND_SLEEP_MATCH = "type='signal',sender='org.freedesktop.login1',interface='org.freedesktop.login1.Manager',member='PrepareForSleep'";

/** Whether systemd-logind runs here (its runtime directory exists). */
export function logindAvailable(root = '/run/systemd/system'): boolean {
  return existsSync(root);
}

/**
 * Feeds `dbus-monitor` output line by line; returns a power state when a line completes a
 * PrepareForSleep signal. The header names the signal, the next line carries its boolean.
 */
export class PrepareForSleepParser {
  private expectingArgument = false;

  push(line: string): PowerState | null {
    if (line.startsWith('signal ')) {
      this.expectingArgument = /\binterface=org\.freedesktop\.login1\.Manager;/.test(line) && /\bmember=PrepareForSleep$/.test(line.trim());
      return null;
    }
    if (!this.expectingArgument) return null;
    this.expectingArgument = false;
    const m = /^\s+boolean (true|false)\s*$/.exec(line);
    if (!m) return null;
    return m[1] === 'true' ? 'suspending' : 'awake';
  }
}

export interface SleepWatcherOptions {
  onPower: (state: PowerState) => void;
  /** The bus: the system bus normally; a private bus address in tests. */
  bus?: { address: string; match: string };
}

/** Runs `dbus-monitor` for PrepareForSleep until stopped. */
export class LogindSleepWatcher {
  private child: ChildProcess | null = null;

  constructor(private readonly options: SleepWatcherOptions) {}

  start(): void {
    const bus = this.options.bus;
    const args = bus ? ['--address', bus.address, bus.match] : ['--system', LOGIND_SLEEP_MATCH];
    const child = spawn('dbus-monitor', args, { stdio: ['ignore', 'pipe', 'ignore'] });
    this.child = child;
    child.on('error', () => undefined); // not installed: no power frames, the console falls back to "offline"
    const parser = new PrepareForSleepParser();
    forEachLine(
      child.stdout!,
      (line) => {
        const state = parser.push(line);
        if (state) this.options.onPower(state);
      },
      { encoding: 'utf8', maxLine: 65_536 },
    );
  }

  stop(): void {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    this.child = null;
  }
}
