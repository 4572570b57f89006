/**
 * Reconnect delays: exponential growth with "equal jitter" (half fixed, half random), so a
 * console restart is not met by every device reconnecting in the same instant, and a device
 * never hammers a console that is down.
 */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly baseMs = 500,
    private readonly maxMs = 60_000,
    private readonly random: () => number = Math.random,
  ) {}

  next(): number {
    const cap = Math.min(this.maxMs, this.baseMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return Math.round(cap / 2 + this.random() * (cap / 2));
  }

  /**
   * At least `floorMs`, plus up to half of it again at random: used when the console asked us
   * to stay away, so a fleet that was turned away together does not come back together.
   */
  nextAtLeast(floorMs: number): number {
    const delay = this.next();
    return floorMs > 0 ? Math.max(delay, Math.round(floorMs + this.random() * (floorMs / 2))) : delay;
  }

  reset(): void {
    this.attempt = 0;
  }

  get attempts(): number {
    return this.attempt;
  }
}
