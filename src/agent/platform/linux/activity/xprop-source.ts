import { spawn, type ChildProcess } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { forEachLine } from '../../../activity/child-lines.js';
import type { RawWindow, WindowDetail, WindowSource } from '../../../activity/window-source.js';
import {
  WINDOW_PROPERTIES,
  parseActiveWindowLine,
  parsePropertyLine,
  ROOT_SPY_ARGS,
  windowFromProperties,
  windowSpyArgs,
  type PropertyUpdate,
  type WindowProperty,
} from './xprop-output.js';

/** A line longer than this is not something we asked for; it is dropped. */
const MAX_LINE = 64 * 1024;
/** How long a sample waits for the root helper's first answer (it fails sooner when X is not there). */
const READY_WAIT_MS = 3_000;
/** How long a sample waits for a newly focused window's properties (xprop prints them within ms). */
const TRANSITION_WAIT_MS = 300;
// xprop prints ASCII here (byte lists), so latin1 never splits a character.
const lines = (child: ChildProcess, onLine: (line: string) => void) => forEachLine(child.stdout!, onLine, { encoding: 'latin1', maxLine: MAX_LINE });

/**
 * The X11 window source: ONE long-lived `xprop -root -spy` tells us when focus moves, and one
 * `xprop -id W -spy` follows the focused window's title and class, so each sample is a memory
 * read. get-windows instead spawns xprop twice and xwininfo once per call; measured in
 * docs/benchmarks.md (bench:activity), that costs 1.6-1.8 % of a core against 0.17-0.25 % at one sample a second.
 */
export class XpropWindowSource implements WindowSource {
  readonly name = 'xprop-spy';
  private root: ChildProcess | null = null;
  private windowSpy: ChildProcess | null = null;
  private activeId = 0;
  /** The properties of the window in front, as last read in full. */
  private props = new Map<WindowProperty, PropertyUpdate['value']>();
  /** A focus change whose window's properties are still being read: the previous window stays shown. */
  private incoming: Map<WindowProperty, PropertyUpdate['value']> | null = null;
  private paths = new Map<number, string | null>();
  private failure: string | null = null;
  private stopped = false;
  /** The root helper has said which window is in front (or failed): until then nothing is known. */
  private known = false;
  private readonly waiters = new Set<() => void>();
  private changeListener: () => void = () => undefined;
  private noWindowTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly env: NodeJS.ProcessEnv,
    private readonly detail: WindowDetail = 'full',
    private readonly procRoot = '/proc',
  ) {}

  get problem(): string | null {
    return this.failure;
  }

  /** PIDs of the helper processes (for the benchmark and tests). */
  get helperPids(): number[] {
    return [this.root?.pid, this.windowSpy?.pid].filter((p): p is number => typeof p === 'number');
  }

  onChange(listener: () => void): void {
    this.changeListener = listener;
  }

  start(): void {
    const root = this.spawnXprop(ROOT_SPY_ARGS);
    this.root = root;
    lines(root, (line) => {
      const id = parseActiveWindowLine(line);
      if (id === null) return;
      if (!this.known || id !== this.activeId) this.follow(id);
      this.known = true;
      this.wake();
    });
    root.once('exit', (code, signal) => {
      if (!this.stopped && this.root === root) this.failure ??= `xprop -root -spy ended (${signal ?? `exit ${code}`})`;
      this.wake();
    });
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.noWindowTimer);
    this.end(this.windowSpy);
    this.end(this.root);
    this.windowSpy = this.root = null;
    this.wake();
  }

  /**
   * The window in front. Waits for the first answer from X (so a display that is not there is a
   * `problem`, never "no window"), and for a newly focused window's properties: a focus change
   * is a transition, not the absence of a window, so until they are read the previous one stands.
   */
  async sample(): Promise<RawWindow | null> {
    if (!this.known) await this.settled(() => this.known || this.failure !== null, READY_WAIT_MS);
    if (this.incoming) await this.settled(() => this.incoming === null, TRANSITION_WAIT_MS);
    const window = windowFromProperties(this.props);
    if (!window) return null;
    return { app: window.app, title: window.title, url: null, path: window.pid === null || this.detail !== 'full' ? null : this.pathOf(window.pid) };
  }

  private follow(id: number): void {
    this.end(this.windowSpy);
    this.windowSpy = null;
    this.activeId = id;
    const props = new Map<WindowProperty, PropertyUpdate['value']>();
    this.incoming = props;
    clearTimeout(this.noWindowTimer);
    if (id === 0) {
      // Window managers pass through "no active window" on the way from one window to the next
      // (openbox does on every switch): only a "none" that lasts is an empty desktop.
      this.noWindowTimer = setTimeout(() => this.incoming === props && this.show(props), TRANSITION_WAIT_MS);
      return;
    }
    const wanted = this.detail === 'full' ? WINDOW_PROPERTIES.length : 1;
    const spy = this.spawnXprop(windowSpyArgs(id, this.detail === 'full'));
    this.windowSpy = spy;
    lines(spy, (line) => {
      const update = parsePropertyLine(line);
      if (!update) return;
      props.set(update.name, update.value);
      // xprop prints every property asked for once (a value or "not found") before any change.
      if (this.incoming === props && props.size >= wanted) this.show(props);
    });
    // The window closed (xprop: BadWindow): nothing in front until focus moves.
    spy.once('exit', () => {
      if (this.windowSpy !== spy) return;
      props.clear();
      if (this.incoming === props) this.show(props);
    });
  }

  /** The newly focused window's properties are read: it is the one in front now. */
  private show(props: Map<WindowProperty, PropertyUpdate['value']>): void {
    this.props = props;
    this.incoming = null;
    this.wake();
    if (this.known) this.changeListener();
  }

  private settled(done: () => boolean, timeoutMs: number): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if (!done() && !this.stopped) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => (this.waiters.delete(check), resolve()), timeoutMs);
      this.waiters.add(check);
    });
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  private spawnXprop(args: string[]): ChildProcess {
    const child = spawn('xprop', args, { env: this.env, stdio: ['ignore', 'pipe', 'ignore'] });
    child.once('error', (error: NodeJS.ErrnoException) => {
      this.failure ??= error.code === 'ENOENT' ? 'xprop is not installed (x11-utils)' : `xprop could not start: ${error.message}`;
      this.wake();
    });
    return child;
  }

  private end(child: ChildProcess | null): void {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  }

  /** The program behind a window; cached per pid (a pid's program does not change without exec). */
  private pathOf(pid: number): string | null {
    if (!this.paths.has(pid)) {
      if (this.paths.size > 256) this.paths.clear();
      let path: string | null = null;
      try {
        path = readlinkSync(`${this.procRoot}/${pid}/exe`);
      } catch {
        /* another user's process, or gone */
      }
      this.paths.set(pid, path);
    }
    return this.paths.get(pid)!;
  }
}
