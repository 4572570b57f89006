import type { AgentEvent } from '../shared/events.js';
import type { ConsoleStore, InsertedEvents } from './store/store.js';

interface Pending {
  deviceId: string;
  events: AgentEvent[];
  receivedAt: string;
  resolve(result: InsertedEvents): void;
  reject(error: unknown): void;
}

/**
 * Group commit for event frames. Every frame must be on disk before it is acknowledged, and one
 * fsync per frame caps a console at a few hundred frames a second on a busy disk. Frames that
 * arrive in the same turn of the event loop (from any number of devices) are written in one
 * transaction, so one fsync covers them all; each caller still waits for its own durable write.
 * With little traffic a batch is a single frame, as before.
 */
export class EventWriter {
  private pending: Pending[] = [];
  private scheduled = false;

  constructor(private readonly store: ConsoleStore) {}

  write(deviceId: string, events: AgentEvent[], receivedAt: string): Promise<InsertedEvents> {
    return new Promise((resolve, reject) => {
      this.pending.push({ deviceId, events, receivedAt, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = [];
    try {
      const results = await this.store.insertEventBatch(batch);
      batch.forEach((p, i) => p.resolve(results[i]!));
    } catch {
      // The batch rolled back as a whole; write each frame alone so one bad frame fails only itself.
      for (const p of batch) await this.store.insertEvents(p.deviceId, p.events, p.receivedAt).then(p.resolve, p.reject);
    }
  }
}
