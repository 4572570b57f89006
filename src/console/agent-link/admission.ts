/** How often the gate looks at the event loop. */
const TICK_MS = 50;
/** After a late turn the gate stays closed this long, for the backlog to drain. */
const CLOSED_AFTER_MS = 250;

/**
 * Whether this process takes a new agent connection now. Each costs a handshake, a signature
 * check and several database round trips, and a failover sends a dead process's thousands of
 * agents to the survivors within a second. A survivor that took them all fell seconds behind: its
 * health check answered late (the balancer took it out of rotation), and its dashboards, acks and
 * pings waited behind the storm. So while the event loop is late by more than `maxLagMs` the agent
 * endpoint turns new connections away at the HTTP upgrade, before any work is done for them, and
 * the agents come back after their jittered backoff, here or at a process with time to spare.
 *
 * Late is measured by a timer that should tick every TICK_MS: a tick that came late by more than
 * `maxLagMs` closes the gate for CLOSED_AFTER_MS (a loop that has been busy), and so does the
 * time since the last tick (a loop busy right now: the burst that follows a failover arrives
 * within one poll phase, before any tick could report it). Connections already held are never
 * touched, and nothing an agent sends can make the gate refuse others except load itself.
 */
export class AdmissionGate {
  private readonly timer: NodeJS.Timeout;
  private lastTick = performance.now();
  private closedUntil = 0;
  private lastLateMs = 0;

  constructor(
    private readonly maxLagMs: number,
    /** Told of every late tick (a turn of the loop over maxLagMs), for the stats. */
    private readonly onLate: (ms: number) => void = () => undefined,
  ) {
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
  }

  /** Whether the loop is too late to take on more work now. */
  busy(now = performance.now()): boolean {
    if (this.maxLagMs <= 0) return false;
    return now < this.closedUntil || now - this.lastTick > TICK_MS + this.maxLagMs;
  }

  /** How late the loop was, in ms (the turn going on now, or the last late tick): what a refusal reports. */
  lagMs(now = performance.now()): number {
    return Math.round(Math.max(this.lastLateMs, now - this.lastTick - TICK_MS));
  }

  close(): void {
    clearInterval(this.timer);
  }

  private tick(): void {
    const now = performance.now();
    const late = now - this.lastTick - TICK_MS;
    if (late > this.maxLagMs) {
      this.closedUntil = now + CLOSED_AFTER_MS;
      this.lastLateMs = late;
      this.onLate(late);
    }
    this.lastTick = now;
  }
}
