import type { ObservedProcess, ProcessWatchBackend, TerminateOutcome } from './fallback.js';
import { fileIdentity, hashFileAt } from './hash-file.js';
import type { SignerInfo } from '../../shared/app-rules.js';

/** One row of an OS's process list: enough to tell a new process from one already seen. */
export interface ListedProcess {
  /** Changes when the pid is reused or the program changes (pid, start time, path). */
  key: string;
  path: string;
}

export interface PollingOptions<P> {
  intervalMs?: number;
  identity?: typeof fileIdentity;
  hash?: (p: P) => Promise<string | null>;
}

/**
 * The fallback watchers that poll the OS's process list (Windows WMI, macOS ps): one round lists
 * the processes, reports those not seen before whose program file can be identified, and forgets
 * the ones that ended. A round still running when the next is due is not doubled. Each OS says
 * how to list, how to describe a new process, how to name its signer and how to end it.
 */
export abstract class PollingProcessBackend<P extends ObservedProcess, Row extends ListedProcess> implements ProcessWatchBackend<P> {
  abstract readonly kind: ProcessWatchBackend['kind'];
  private timer: NodeJS.Timeout | null = null;
  private readonly known = new Set<string>();
  private polling = false;

  protected constructor(
    private readonly defaultIntervalMs: number,
    protected readonly pollingOptions: PollingOptions<P>,
  ) {}

  /** The processes running now; null when the OS could not say (this round is skipped). */
  protected abstract list(): Promise<Row[] | null>;
  /** The observed process for a new row and its program file's identity. */
  protected abstract observe(row: Row, id: NonNullable<ReturnType<typeof fileIdentity>>): P | Promise<P>;
  abstract signer(p: P): Promise<SignerInfo | null>;
  abstract terminate(p: P): Promise<{ outcome: TerminateOutcome; livedMs: number | null }>;

  async start(onProcess: (p: P) => void): Promise<void> {
    await this.poll(onProcess);
    this.timer = setInterval(() => void this.poll(onProcess), this.pollingOptions.intervalMs ?? this.defaultIntervalMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One round: list processes, report the ones not seen before. */
  async poll(onProcess: (p: P) => void): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const rows = await this.list();
      if (!rows) return;
      const alive = new Set<string>();
      for (const row of rows) {
        alive.add(row.key);
        if (this.known.has(row.key)) continue;
        const id = (this.pollingOptions.identity ?? fileIdentity)(row.path);
        if (!id) continue;
        onProcess(await this.observe(row, id));
      }
      for (const key of this.known) if (!alive.has(key)) this.known.delete(key);
      for (const key of alive) this.known.add(key);
    } finally {
      this.polling = false;
    }
  }

  hash(p: P): Promise<string | null> {
    return (this.pollingOptions.hash ?? ((q) => hashFileAt(q.path, q)))(p);
  }
}
