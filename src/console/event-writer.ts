import type { AgentEvent } from '../shared/events.js';
import type { ConsoleStore, InsertedEvents } from './store/store.js';

interface Pending {
  deviceId: string;
  events: AgentEvent[];
  receivedAt: string;
  resolve(result: InsertedEvents): void;
  reject(error: unknown): void;
}

/** Batches being written at once; frames arriving meanwhile wait for the next batch. */
const MAX_IN_FLIGHT = 2;

/**
 * Group commit for event frames. Every frame must be on disk before it is acknowledged, and one
 * fsync per frame caps a console at a few hundred frames a second on a busy disk. Frames that
 * arrive in the same turn of the event loop (from any number of devices) are written in one
 * transaction, so one fsync covers them all; each caller still waits for its own durable write.
 * While two batches are being written, frames that arrive join the next one instead of opening
 * a third transaction (each costs the console and the database round trips whatever its size).
 * With little traffic a batch is a single frame, as before.
 */
export class EventWriter {
  private pending: Pending[] = [];
  private scheduled = false;
  private inFlight = 0;

  constructor(private readonly store: ConsoleStore) {}

  write(deviceId: string, events: AgentEvent[], receivedAt: string): Promise<InsertedEvents> {
    return new Promise((resolve, reject) => {
      this.pending.push({ deviceId, events, receivedAt, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= MAX_IN_FLIGHT || !this.pending.length) return;
    this.scheduled = true;
    setImmediate(() => void this.flush());
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = [];
    this.inFlight++;
    try {
      const results = await this.store.insertEventBatch(batch);
      batch.forEach((p, i) => p.resolve(results[i]!));
    } catch {
      // The batch rolled back as a whole; write each frame alone so one bad frame fails only itself.
      for (const p of batch) await this.store.insertEvents(p.deviceId, p.events, p.receivedAt).then(p.resolve, p.reject);
    } finally {
      this.inFlight--;
      this.schedule();
    }
  }
}
