import { DeviceHistoryEntrySchema, type DeviceHistoryEntry } from '../../../shared/api.js';
import type { DeviceHistoryStore } from '../store.js';
import type { Db, Row } from './database.js';

export class SqliteDeviceHistory implements DeviceHistoryStore {
  constructor(private readonly db: Db) {}

  async usersSeen(): Promise<{ deviceId: string; user: string; lastSeenAt: string }[]> {
    // Status snapshots in the history, plus the status the device holds now (written on every
    // report, while history keeps changes only): each account in `users` or `user`.
    const rows = this.db
      .prepare(
        `SELECT device_id, user, MAX(at) AS last_seen FROM (
           SELECT h.device_id, u.value AS user, h.at FROM device_history h, json_each(h.body, '$.status.users') u WHERE h.kind = 'status'
           UNION ALL
           SELECT h.device_id, json_extract(h.body, '$.status.user'), h.at FROM device_history h WHERE h.kind = 'status'
           UNION ALL
           SELECT d.id, u.value, d.last_seen_at FROM devices d, json_each(d.status_json, '$.users') u WHERE d.status_json IS NOT NULL AND d.last_seen_at IS NOT NULL
           UNION ALL
           SELECT d.id, json_extract(d.status_json, '$.user'), d.last_seen_at FROM devices d WHERE d.status_json IS NOT NULL AND d.last_seen_at IS NOT NULL
         ) WHERE user IS NOT NULL AND typeof(user) = 'text' AND user <> ''
         GROUP BY device_id, user ORDER BY device_id, user`,
      )
      .all() as Row[];
    return rows.map((r) => ({ deviceId: String(r.device_id), user: String(r.user), lastSeenAt: String(r.last_seen) }));
  }

  async appendDeviceHistory(deviceId: string, entry: DeviceHistoryEntry): Promise<void> {
    const { at, kind, ...body } = entry;
    this.db.prepare('INSERT INTO device_history (device_id, at, kind, body) VALUES (?, ?, ?, ?)').run(deviceId, at, kind, JSON.stringify(body));
  }
  async listDeviceHistory(deviceId: string, filter: { limit: number; kind?: DeviceHistoryEntry['kind'] }): Promise<DeviceHistoryEntry[]> {
    const rows = (
      filter.kind
        ? this.db
            .prepare('SELECT at, kind, body FROM device_history WHERE device_id = ? AND kind = ? ORDER BY id DESC LIMIT ?')
            .all(deviceId, filter.kind, filter.limit)
        : this.db.prepare('SELECT at, kind, body FROM device_history WHERE device_id = ? ORDER BY id DESC LIMIT ?').all(deviceId, filter.limit)
    ) as Row[];
    return rows.flatMap((row) => {
      const parsed = DeviceHistoryEntrySchema.safeParse({ at: row.at, kind: row.kind, ...JSON.parse(String(row.body)) });
      return parsed.success ? [parsed.data] : [];
    });
  }
  async deleteDeviceHistoryBefore(iso: string): Promise<number> {
    return this.db.prepare('DELETE FROM device_history WHERE at < ?').run(iso).changes;
  }
}
