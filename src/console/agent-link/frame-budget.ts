import { FRAME_BUDGETS, type Budget, type BudgetedType } from '../../shared/frame-budgets.js';
import { TokenBucket } from '../../shared/token-bucket.js';

/** How often a device is told again that it is over budget (not once per dropped frame: no amplification). */
const TELL_EVERY_MS = 10_000;

export interface OverBudget {
  /** Frames of this type dropped from this device since the console started. */
  dropped: number;
  /** Whether to tell the device now (the first drop, then at most every 10 s per type). */
  tell: boolean;
}

/**
 * Per-device frame budgets, kept by device id (not per connection, so reconnecting does not
 * refill them). Excess frames are dropped and counted per device and type; the counts are
 * what GET /api/v1/stats shows the technician.
 */
export class FrameBudgets {
  private readonly buckets = new Map<string, Map<BudgetedType, TokenBucket>>();
  private readonly drops = new Map<string, Map<BudgetedType, { dropped: number; toldAt: number }>>();
  total = 0;

  constructor(
    private readonly budgets: Record<BudgetedType, Budget> = FRAME_BUDGETS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Null if the frame is within budget; otherwise what was dropped so far and whether to say so. */
  take(deviceId: string, type: BudgetedType): OverBudget | null {
    let buckets = this.buckets.get(deviceId);
    if (!buckets) this.buckets.set(deviceId, (buckets = new Map()));
    let bucket = buckets.get(type);
    if (!bucket) {
      const { burst, refillMs } = this.budgets[type];
      buckets.set(type, (bucket = new TokenBucket(burst, refillMs, this.now)));
    }
    if (bucket.take()) return null;
    this.total++;
    let perType = this.drops.get(deviceId);
    if (!perType) this.drops.set(deviceId, (perType = new Map()));
    const entry = perType.get(type) ?? { dropped: 0, toldAt: -Infinity };
    entry.dropped++;
    const now = this.now();
    const tell = now - entry.toldAt >= TELL_EVERY_MS;
    if (tell) entry.toldAt = now;
    perType.set(type, entry);
    return { dropped: entry.dropped, tell };
  }

  /** Dropped frames per device and type, the devices with most drops first (at most `limit`). */
  report(limit = 50): { total: number; devices: { deviceId: string; dropped: number; byType: Partial<Record<BudgetedType, number>> }[] } {
    const devices = [...this.drops].map(([deviceId, perType]) => {
      const byType: Partial<Record<BudgetedType, number>> = {};
      let dropped = 0;
      for (const [type, { dropped: n }] of perType) ((byType[type] = n), (dropped += n));
      return { deviceId, dropped, byType };
    });
    devices.sort((a, b) => b.dropped - a.dropped);
    return { total: this.total, devices: devices.slice(0, limit) };
  }

  /** Frames dropped from one device (the device page shows it). */
  droppedFrom(deviceId: string): number {
    let n = 0;
    for (const { dropped } of this.drops.get(deviceId)?.values() ?? []) n += dropped;
    return n;
  }

  /** A revoked device is forgotten. */
  forget(deviceId: string): void {
    this.buckets.delete(deviceId);
    this.drops.delete(deviceId);
  }
}
