/**
 * Whether this console process can serve: `GET /healthz` asks it, and a load balancer in front of
 * several processes (docs/haproxy.cfg) takes a process out of rotation while it answers 503. A
 * process that cannot reach its database cannot enroll, store events or sign anyone in, so the
 * database answering one round trip is the test.
 */
export type HealthReport = { ok: true } | { ok: false; problem: string };

/** Long enough for a loaded pool to hand out a connection; short enough for the balancer's check timeout (5 s). */
export const HEALTH_TIMEOUT_MS = 3000;

export class DatabaseHealth {
  private inFlight: Promise<HealthReport> | null = null;

  constructor(
    private readonly ping: () => Promise<void>,
    private readonly timeoutMs = HEALTH_TIMEOUT_MS,
  ) {}

  /**
   * One ping at a time, whatever the number of balancers probing: checks that arrive while one is
   * in flight share its answer, so a slow database is not sent a queue of pings.
   */
  check(): Promise<HealthReport> {
    this.inFlight ??= this.pingWithin().finally(() => (this.inFlight = null));
    return this.inFlight;
  }

  private async pingWithin(): Promise<HealthReport> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<HealthReport>((resolve) => {
      timer = setTimeout(() => resolve({ ok: false, problem: `the database did not answer within ${this.timeoutMs} ms` }), this.timeoutMs);
    });
    const answered = this.ping().then(
      (): HealthReport => ({ ok: true }),
      (error: unknown): HealthReport => ({ ok: false, problem: `the database is unreachable: ${(error as Error)?.message ?? String(error)}` }),
    );
    try {
      return await Promise.race([answered, timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }
}
