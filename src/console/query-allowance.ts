/**
 * A token bucket: `burst` questions at once, then one per `refillMs`. Per agent connection, so a
 * device (or a stolen device key) cannot use a question-and-answer frame to sweep the console.
 */
export class QueryAllowance {
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
