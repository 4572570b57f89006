import { EventEmitter } from 'node:events';
import type { MountedVolume, VolumeWatcher } from './drives.js';

/**
 * A VolumeWatcher for platforms whose mount list comes from a command (Windows, macOS): lists
 * on a timer and reports what appeared, disappeared or changed options since the last list.
 */
export class PollingVolumeWatcher extends EventEmitter implements VolumeWatcher {
  private table = new Map<string, MountedVolume>();
  private timer: NodeJS.Timeout | null = null;
  private reading: Promise<void> | null = null;

  private stopTrigger: (() => void) | null = null;

  /**
   * `trigger`, when given, is an OS notification (e.g. Windows volume arrival) that calls its
   * argument to re-list at once; the timer stays as the safety net. It returns its stop function.
   */
  constructor(
    private readonly list: () => Promise<MountedVolume[]>,
    private readonly intervalMs: number,
    private readonly trigger?: (refresh: () => void) => () => void,
  ) {
    super();
  }

  async start(): Promise<MountedVolume[]> {
    this.table = new Map((await this.list()).map((v) => [v.key, v]));
    this.timer = setInterval(() => void this.refresh(), this.intervalMs);
    this.timer.unref();
    this.stopTrigger = this.trigger?.(() => void this.refresh()) ?? null;
    return [...this.table.values()];
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.stopTrigger?.();
    this.stopTrigger = null;
  }

  refresh(): Promise<void> {
    this.reading ??= this.readOnce().finally(() => {
      this.reading = null;
    });
    return this.reading;
  }

  private async readOnce(): Promise<void> {
    let next: Map<string, MountedVolume>;
    try {
      next = new Map((await this.list()).map((v) => [v.key, v]));
    } catch (error) {
      this.emit('error', error);
      return;
    }
    const before = this.table;
    this.table = next;
    for (const [key, v] of before) if (!next.has(key)) this.emit('unmounted', v);
    for (const [key, v] of next) {
      const old = before.get(key);
      if (!old) this.emit('mounted', v);
      else if (old.options.join(',') !== v.options.join(',')) this.emit('changed', v);
    }
  }
}
