/**
 * A token bucket: `burst` at once, then one per `refillMs`. The console keeps one per device and
 * frame type (so a device, or a stolen device key, cannot flood it); the agent keeps one for its
 * event frames with the console's figures, so an honest agent never meets the console's limit.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly burst: number,
    private readonly refillMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = burst;
    this.last = now();
  }

  take(): boolean {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + (now - this.last) / this.refillMs);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
