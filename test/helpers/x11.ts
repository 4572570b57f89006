import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { findSessionProcesses } from '../../src/agent/platform/linux/session/session-processes.js';
import { REPO, waitUntil } from './processes.js';

/** Real X11 for session tests: a private Xvfb, a window manager and apps, all ended by PID. */
export const X_TOOLS = ['Xvfb', 'openbox', 'xterm', 'xdotool', 'xprintidle', 'i3lock', 'xmessage', 'xdpyinfo', 'xwininfo', 'import', 'convert'] as const;
export const SCREENSHOT_DIR = join(REPO, 'test-results', 'screenshots');

export function missingXTools(): string[] {
  return X_TOOLS.filter((tool) => spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status !== 0);
}

/** The environment for X clients on `display`; the test process itself never gets DISPLAY. */
export function xEnv(display: string): NodeJS.ProcessEnv {
  const { DISPLAY: _d, XAUTHORITY: _x, ...rest } = process.env;
  return { ...rest, DISPLAY: display };
}

export interface XServer {
  display: string;
  /** Starts an X client on this display; ended in `stop`. */
  client(command: string, args?: string[]): ChildProcess;
  /** Runs an X command to completion. */
  run(command: string, args: string[]): { status: number | null; stdout: string };
  windowExists(name: string): boolean;
  screenshot(name: string): string;
  /** Colour of one pixel of the root window, as ImageMagick prints it. */
  pixel(x: number, y: number): string;
  stop(): Promise<void>;
}

const started = new Set<ChildProcess>();

function freeDisplay(): number {
  for (let tries = 0; tries < 50; tries++) {
    const n = 97 + Math.floor(Math.random() * 800);
    if (!existsSync(`/tmp/.X11-unix/X${n}`) && !existsSync(`/tmp/.X${n}-lock`)) return n;
  }
  throw new Error('no free X display number');
}

export async function startXvfb(): Promise<XServer> {
  const n = freeDisplay();
  const display = `:${n}`;
  const { DISPLAY: _d, ...envWithoutDisplay } = process.env;
  // -noreset: by default the server resets when its last client leaves (our xdpyinfo probe), and
  // a client connecting during that reset (the window manager, the first app) fails at random.
  const server = spawn('Xvfb', [display, '-screen', '0', '1024x768x24', '-nolisten', 'tcp', '-noreset'], { env: envWithoutDisplay, stdio: 'ignore' });
  started.add(server);
  const env = xEnv(display);
  // The socket appears before the server accepts clients: wait until one can actually connect.
  await waitUntil(
    () => existsSync(`/tmp/.X11-unix/X${n}`) && spawnSync('xdpyinfo', [], { env, stdio: 'ignore', timeout: 5000 }).status === 0,
    15_000,
    () => `Xvfb ${display} never accepted a client`,
  );
  const clients: ChildProcess[] = [];
  const x: XServer = {
    display,
    client(command, args = []) {
      const child = spawn(command, args, { env, stdio: 'ignore' });
      started.add(child);
      clients.push(child);
      child.once('exit', () => started.delete(child));
      return child;
    },
    run(command, args) {
      const r = spawnSync(command, args, { env, encoding: 'utf8', timeout: 10_000 });
      return { status: r.status, stdout: r.stdout ?? '' };
    },
    windowExists: (name) => x.run('xdotool', ['search', '--name', name]).status === 0,
    screenshot(name) {
      mkdirSync(SCREENSHOT_DIR, { recursive: true });
      const path = join(SCREENSHOT_DIR, `${name}.png`);
      x.run('import', ['-window', 'root', path]);
      return path;
    },
    pixel(px, py) {
      const path = x.screenshot('_pixel-probe');
      return spawnSync('convert', [path, '-format', `%[pixel:p{${px},${py}}]`, 'info:'], { encoding: 'utf8' }).stdout.trim();
    },
    async stop() {
      await Promise.all([...clients, server].map(end));
    },
  };
  return x;
}

/** Ends one process we started, by its PID: SIGTERM, then SIGKILL after 2 s. */
function end(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
    child.once('exit', () => (clearTimeout(timer), started.delete(child), resolve()));
    child.kill('SIGTERM');
  });
}

export const isRunning = (child: ChildProcess) => child.exitCode === null && child.signalCode === null;

/** PIDs of processes named `comm` that run with DISPLAY=display (the lockers our agent started). */
export function pidsOnDisplay(comm: string, display: string): number[] {
  return findSessionProcesses(display, process.getuid!())
    .filter((p) => p.comm === comm)
    .map((p) => p.pid);
}

/**
 * Ends what the code under test started on our private display (lockers, windows), by PID:
 * only processes with these names whose environment has exactly this DISPLAY.
 */
export function killOnDisplay(display: string, comms: string[]): void {
  for (const pid of comms.flatMap((comm) => pidsOnDisplay(comm, display))) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}
