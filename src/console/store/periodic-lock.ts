import pg from 'pg';

/**
 * Periodic work (policy renewal, retention purges) must run on one console process at a time: two
 * processes renewing together would publish two policy versions. `holds()` says whether this
 * process is the one, now.
 */
export interface PeriodicWorkLock {
  holds(): Promise<boolean>;
  close(): Promise<void>;
}

/** One embedded console process: always the one. */
export const SOLE_PROCESS: PeriodicWorkLock = { holds: async () => true, close: async () => undefined };

/** pg advisory lock key for periodic work ("vig", 2). */
const PERIODIC_LOCK = 0x76_69_67_00_02;

/**
 * A PostgreSQL session-level advisory lock on a connection of its own: the first process to ask
 * takes it and keeps it for as long as its connection lives. When that process dies (or its
 * connection does), the server releases the lock and the next process to ask takes over.
 */
export function postgresPeriodicLock(url: string): PeriodicWorkLock {
  let client: pg.Client | null = null;
  let held = false;
  let closed = false;
  const drop = () => {
    held = false;
    const old = client;
    client = null;
    void old?.end().catch(() => undefined);
  };
  return {
    async holds() {
      if (closed) return false;
      if (held && client) return true;
      try {
        if (!client) {
          client = new pg.Client({ connectionString: url });
          client.on('error', drop);
          client.on('end', () => {
            held = false;
            client = null;
          });
          await client.connect();
        }
        const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [PERIODIC_LOCK]);
        held = rows[0]?.locked === true;
      } catch {
        drop();
      }
      return held;
    },
    async close() {
      closed = true;
      held = false;
      const old = client;
      client = null;
      await old?.end().catch(() => undefined);
    },
  };
}
