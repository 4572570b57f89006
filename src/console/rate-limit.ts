/**
 * Counts failures per key in a sliding window and puts a key in a penalty box when it has too
 * many. The penalty doubles each time the same key is boxed again, up to a ceiling.
 * Used for login attempts (per user and per address) and for devices that send garbage.
 */
export interface PenaltyBoxOptions {
  maxFailures: number;
  windowMs: number;
  basePenaltyMs: number;
  maxPenaltyMs: number;
  /** Forget keys we have not seen for this long, so memory stays bounded. */
  forgetAfterMs?: number;
  now?: () => number;
}

interface Entry {
  failures: number[];
  blockedUntil: number;
  strikes: number;
  lastSeen: number;
}

export class PenaltyBox {
  private readonly entries = new Map<string, Entry>();
  private readonly now: () => number;

  constructor(private readonly options: PenaltyBoxOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Milliseconds the key must still wait, or 0 when it may proceed. */
  retryAfterMs(key: string): number {
    const entry = this.entries.get(key);
    if (!entry) return 0;
    return Math.max(0, entry.blockedUntil - this.now());
  }

  /** Records a failure; returns the penalty now in force (0 if the key is still under the limit). */
  fail(key: string): number {
    const now = this.now();
    this.sweep(now);
    const entry = this.entries.get(key) ?? { failures: [], blockedUntil: 0, strikes: 0, lastSeen: now };
    entry.lastSeen = now;
    entry.failures = entry.failures.filter((t) => now - t < this.options.windowMs);
    entry.failures.push(now);
    if (entry.failures.length >= this.options.maxFailures) {
      const penalty = Math.min(this.options.basePenaltyMs * 2 ** entry.strikes, this.options.maxPenaltyMs);
      entry.strikes += 1;
      entry.blockedUntil = now + penalty;
      entry.failures = [];
    }
    this.entries.set(key, entry);
    return Math.max(0, entry.blockedUntil - now);
  }

  succeed(key: string): void {
    this.entries.delete(key);
  }

  private sweep(now: number): void {
    const forget = this.options.forgetAfterMs ?? 60 * 60 * 1000;
    if (this.entries.size < 10_000) return;
    for (const [key, entry] of this.entries) {
      if (now - entry.lastSeen > forget && entry.blockedUntil < now) this.entries.delete(key);
    }
  }
}
