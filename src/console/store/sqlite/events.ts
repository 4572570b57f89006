import type Database from 'better-sqlite3';
import { AgentEventSchema, type AgentEvent } from '../../../shared/events.js';
import type { EventStore, InsertedEvents, StoredEvent } from '../store.js';
import type { Db, Row } from './database.js';

export class SqliteEvents implements EventStore {
  constructor(private readonly db: Db) {}

  async insertEvents(deviceId: string, events: AgentEvent[], receivedAt: string): Promise<InsertedEvents> {
    const [result] = await this.insertEventBatch([{ deviceId, events, receivedAt }]);
    return result!;
  }

  async insertEventBatch(entries: { deviceId: string; events: AgentEvent[]; receivedAt: string }[]): Promise<InsertedEvents[]> {
    const insert = this.db.prepare(
      'INSERT INTO events (id, device_id, seq, type, at, received_at, body) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING',
    );
    const seqTaken = this.db.prepare('SELECT 1 FROM events WHERE device_id = ? AND seq = ? AND id <> ? LIMIT 1');
    // On disk before the ack: a power cut of the console must not lose what a device has deleted.
    // One transaction (one fsync) for the whole batch: under load, frames from many devices share it.
    this.db.pragma('synchronous = FULL');
    try {
      return this.db.transaction(() => entries.map((e) => insertEventsOf(insert, seqTaken, e.deviceId, e.events, e.receivedAt)))();
    } finally {
      this.db.pragma('synchronous = NORMAL');
    }
  }

  async listEvents(filter: { deviceId?: string; type?: string; limit: number; beforeSeq?: number }): Promise<StoredEvent[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.deviceId) (where.push('device_id = ?'), args.push(filter.deviceId));
    if (filter.type) (where.push('type = ?'), args.push(filter.type));
    if (filter.beforeSeq) (where.push('seq < ?'), args.push(filter.beforeSeq));
    const sql = `SELECT device_id, received_at, body FROM events ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY rowid DESC LIMIT ?`;
    return (this.db.prepare(sql).all(...args, filter.limit) as Row[]).map((row) => ({
      deviceId: String(row.device_id),
      receivedAt: String(row.received_at),
      event: AgentEventSchema.parse(JSON.parse(String(row.body))),
    }));
  }

  async countEvents(deviceId?: string): Promise<number> {
    const row = deviceId
      ? this.db.prepare('SELECT COUNT(*) AS n FROM events WHERE device_id = ?').get(deviceId)
      : this.db.prepare('SELECT COUNT(*) AS n FROM events').get();
    return Number((row as Row).n);
  }

  async deleteEventsReceivedBefore(iso: string): Promise<number> {
    return this.db.prepare('DELETE FROM events WHERE received_at < ?').run(iso).changes;
  }

  async listActivityBatches(deviceId: string, filter: { sentFrom: string; sentBefore: string; limit: number }): Promise<unknown[]> {
    const rows = this.db
      .prepare(`SELECT body FROM events WHERE device_id = ? AND type = 'activity.spans' AND at >= ? AND at < ? ORDER BY at DESC LIMIT ?`)
      .all(deviceId, filter.sentFrom, filter.sentBefore, filter.limit) as Row[];
    return rows.map((row) => (JSON.parse(String(row.body)) as { data?: unknown }).data);
  }

  async listRecentBlocks(sinceIso: string, limit: number): Promise<{ deviceId: string; at: string; name: string }[]> {
    const rows = this.db
      .prepare(
        `SELECT device_id, at, json_extract(body, '$.data.name') AS name FROM events WHERE type = 'app.blocked' AND received_at >= ? ORDER BY rowid DESC LIMIT ?`,
      )
      .all(sinceIso, limit) as Row[];
    return rows.reverse().map((row) => ({ deviceId: String(row.device_id), at: String(row.at), name: String(row.name ?? '') }));
  }
}

function insertEventsOf(insert: Database.Statement, seqTaken: Database.Statement, deviceId: string, events: AgentEvent[], receivedAt: string): InsertedEvents {
  const stored: AgentEvent[] = [];
  const reusedSeqs: number[] = [];
  for (const e of events) {
    // Deduplicate on the event id. A sequence number seen before with a different id means
    // the device lost its last writes (power cut) or its outbox: keep the event, flag it.
    if (seqTaken.get(deviceId, e.seq, e.id)) reusedSeqs.push(e.seq);
    if (insert.run(e.id, deviceId, e.seq, e.type, e.at, receivedAt, JSON.stringify(e)).changes === 1) stored.push(e);
  }
  return { stored, reusedSeqs };
}
