import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { AgentEventSchema, type AgentEvent, type NewAgentEvent, type OutboxDropReason } from '../shared/events.js';
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
  {
    version: 2,
    name: 'dropped events are counted',
    // `urgent` marks the drop report, sent ahead of the backlog; `dropped` counts every event
    // the outbox deleted unsent, by reason, and how many of those a report has carried.
    up: `ALTER TABLE outbox ADD COLUMN urgent INTEGER NOT NULL DEFAULT 0;
      CREATE INDEX outbox_urgent ON outbox (urgent) WHERE urgent = 1;
      CREATE TABLE dropped (
        reason TEXT PRIMARY KEY, total INTEGER NOT NULL, reported INTEGER NOT NULL DEFAULT 0,
        first_unreported_at TEXT, last_at TEXT NOT NULL)`,
  },
];

/** What the outbox has dropped since it was created (device status). */
export interface OutboxHealth {
  pending: number;
  dropped: number;
  lastDroppedAt: string | null;
}

/**
 * The device's durable event queue. An event is committed to disk before anyone is told it
 * exists, and deleted only after the console has acknowledged storing it, so neither a
 * console restart nor a SIGKILL of the agent loses or duplicates it at the console.
 * Sequence numbers come from SQLite AUTOINCREMENT, which never reuses a number even after
 * the row is deleted: the console can key on (device, seq).
 *
 * Nothing leaves unsent without being counted: an event dropped at the cap or as unreadable
 * is counted in the same transaction that deletes it, and `dropReport` turns what no report
 * has carried yet into one `outbox.dropped` event, kept apart from the backlog (urgent).
 */
export class Outbox {
  private readonly db: Database.Database;
  private readonly insert: Database.Statement;
  private readonly selectAfter: Database.Statement;
  private readonly remove: Database.Statement;
  private readonly setBody: Database.Statement;
  private readonly countDrop: Database.Statement;

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
    this.insert = this.db.prepare('INSERT INTO outbox (id, body, urgent) VALUES (?, ?, ?)');
    this.selectAfter = this.db.prepare('SELECT seq, body FROM outbox WHERE seq > ? AND urgent = 0 ORDER BY seq LIMIT ?');
    this.remove = this.db.prepare('DELETE FROM outbox WHERE seq = ?');
    this.setBody = this.db.prepare('UPDATE outbox SET body = ? WHERE seq = ?');
    this.countDrop = this.db.prepare(
      `INSERT INTO dropped (reason, total, first_unreported_at, last_at) VALUES (@reason, @n, @at, @at)
       ON CONFLICT(reason) DO UPDATE SET total = total + @n, last_at = @at,
         first_unreported_at = COALESCE(first_unreported_at, @at)`,
    );
  }

  /** Appends events in one transaction and returns them with id, seq and time filled in. */
  append(events: NewAgentEvent[]): AgentEvent[] {
    return this.db.transaction(() => {
      const appended = events.map((e) => this.insertEvent(e, false));
      // A device offline for a very long time must not fill its disk: drop the oldest. The seq
      // span bounds the row count from above and costs an index lookup, so the full COUNT runs
      // only when the queue may really be over the limit.
      const last = appended.at(-1)?.seq ?? 0;
      const first = Number((this.db.prepare('SELECT MIN(seq) AS s FROM outbox').get() as { s: number | null }).s ?? last);
      if (last - first + 1 > this.maxEvents) {
        const excess = this.count() - this.maxEvents;
        if (excess > 0) {
          const gone = this.db.prepare('DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox WHERE urgent = 0 ORDER BY seq LIMIT ?)').run(excess).changes;
          this.counted('full', gone);
        }
      }
      return appended;
    })();
  }

  /** Pending events with seq greater than `afterSeq`, oldest first (the drop report is apart: `dropReport`). */
  pending(limit: number, afterSeq = 0): AgentEvent[] {
    return (this.selectAfter.all(afterSeq, limit) as { seq: number; body: string }[]).flatMap((row) => {
      const parsed = AgentEventSchema.safeParse(parseOrNull(row.body));
      if (parsed.success) return [parsed.data];
      // A row this version can't read (corruption, downgrade) must not block the queue forever.
      this.db.transaction(() => {
        this.remove.run(row.seq);
        this.counted('unreadable', 1);
      })();
      return [];
    });
  }

  /**
   * The drop report to send before anything else: the one not yet acknowledged, or else a new
   * one for the drops no report has carried (null when there are none). It is an ordinary
   * outbox row, so it survives a restart and is deleted by the console's ack like any event.
   */
  dropReport(): AgentEvent | null {
    return this.db.transaction(() => {
      const held = this.db.prepare('SELECT body FROM outbox WHERE urgent = 1 ORDER BY seq LIMIT 1').get() as { body: string } | undefined;
      if (held) return AgentEventSchema.parse(JSON.parse(held.body));
      const rows = this.db.prepare('SELECT reason, total, reported, first_unreported_at, last_at FROM dropped WHERE total > reported').all() as {
        reason: OutboxDropReason;
        total: number;
        reported: number;
        first_unreported_at: string;
        last_at: string;
      }[];
      if (!rows.length) return null;
      const byReason = { full: 0, unreadable: 0 };
      for (const r of rows) byReason[r.reason] = r.total - r.reported;
      const firsts = rows.map((r) => r.first_unreported_at).sort();
      const lasts = rows.map((r) => r.last_at).sort();
      this.db.prepare('UPDATE dropped SET reported = total, first_unreported_at = NULL').run();
      return this.insertEvent(
        {
          type: 'outbox.dropped',
          data: { dropped: byReason.full + byReason.unreadable, byReason, firstAt: firsts[0]!, lastAt: lasts.at(-1)!, total: this.droppedTotal() },
        },
        true,
      );
    })();
  }

  /** Queue length and everything dropped so far (device status). */
  health(): OutboxHealth {
    const last = this.db.prepare('SELECT MAX(last_at) AS at FROM dropped').get() as { at: string | null };
    return { pending: this.count(), dropped: this.droppedTotal(), lastDroppedAt: last.at };
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

  private insertEvent(e: NewAgentEvent, urgent: boolean): AgentEvent {
    const id = randomUUID();
    const at = new Date().toISOString();
    const seq = Number(this.insert.run(id, '', urgent ? 1 : 0).lastInsertRowid);
    const event = AgentEventSchema.parse({ id, seq, at, type: e.type, data: e.data });
    this.setBody.run(JSON.stringify(event), seq);
    return event;
  }

  private counted(reason: OutboxDropReason, n: number): void {
    if (n > 0) this.countDrop.run({ reason, n, at: new Date().toISOString() });
  }

  private droppedTotal(): number {
    return Number((this.db.prepare('SELECT COALESCE(SUM(total), 0) AS n FROM dropped').get() as { n: number }).n);
  }
}
