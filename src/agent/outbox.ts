import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { AgentEventSchema, type AgentEvent, type NewAgentEvent } from '../shared/events.js';
import { parseOrNull } from '../shared/json-or-null.js';
import { migrate, type Migration } from '../shared/node/migrations.js';

/** The outbox schema. Step 1 is written IF NOT EXISTS: files from before versioning already hold it. */
export const OUTBOX_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'outbox',
    up: `CREATE TABLE IF NOT EXISTS outbox (
      seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, body TEXT NOT NULL)`,
  },
];

/**
 * The device's durable event queue. An event is committed to disk before anyone is told it
 * exists, and deleted only after the console has acknowledged storing it, so neither a
 * console restart nor a SIGKILL of the agent loses or duplicates it at the console.
 * Sequence numbers come from SQLite AUTOINCREMENT, which never reuses a number even after
 * the row is deleted: the console can key on (device, seq).
 */
export class Outbox {
  private readonly db: Database.Database;
  private readonly insert: Database.Statement;
  private readonly selectAfter: Database.Statement;
  private readonly remove: Database.Statement;
  private readonly setBody: Database.Statement;

  constructor(
    file: string,
    private readonly maxEvents = 100_000,
  ) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    // FULL: an event reported to nobody yet must survive a power cut, not just a crash.
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 5000');
    migrate(this.db, file, OUTBOX_MIGRATIONS);
    this.insert = this.db.prepare('INSERT INTO outbox (id, body) VALUES (?, ?)');
    this.selectAfter = this.db.prepare('SELECT seq, body FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?');
    this.remove = this.db.prepare('DELETE FROM outbox WHERE seq = ?');
    this.setBody = this.db.prepare('UPDATE outbox SET body = ? WHERE seq = ?');
  }

  /** Appends events in one transaction and returns them with id, seq and time filled in. */
  append(events: NewAgentEvent[]): AgentEvent[] {
    return this.db.transaction(() => {
      const appended = events.map((e) => {
        const id = randomUUID();
        const at = new Date().toISOString();
        const seq = Number(this.insert.run(id, '').lastInsertRowid);
        const event = AgentEventSchema.parse({ id, seq, at, type: e.type, data: e.data });
        this.setBody.run(JSON.stringify(event), seq);
        return event;
      });
      // A device offline for a very long time must not fill its disk: drop the oldest. The seq
      // span bounds the row count from above and costs an index lookup, so the full COUNT runs
      // only when the queue may really be over the limit.
      const last = appended.at(-1)?.seq ?? 0;
      const first = Number((this.db.prepare('SELECT MIN(seq) AS s FROM outbox').get() as { s: number | null }).s ?? last);
      if (last - first + 1 > this.maxEvents) {
        const excess = this.count() - this.maxEvents;
        if (excess > 0) this.db.prepare('DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox ORDER BY seq LIMIT ?)').run(excess);
      }
      return appended;
    })();
  }

  /** Pending events with seq greater than `afterSeq`, oldest first. */
  pending(limit: number, afterSeq = 0): AgentEvent[] {
    return (this.selectAfter.all(afterSeq, limit) as { seq: number; body: string }[]).flatMap((row) => {
      const parsed = AgentEventSchema.safeParse(parseOrNull(row.body));
      if (parsed.success) return [parsed.data];
      // A row this version can't read (corruption, downgrade) must not block the queue forever.
      this.remove.run(row.seq);
      return [];
    });
  }

  acknowledge(seqs: number[]): void {
    this.db.transaction(() => seqs.forEach((seq) => this.remove.run(seq)))();
  }

  count(): number {
    return Number((this.db.prepare('SELECT COUNT(*) AS n FROM outbox').get() as { n: number }).n);
  }

  close(): void {
    this.db.close();
  }
}
