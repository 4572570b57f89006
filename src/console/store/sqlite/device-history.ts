import { DeviceHistoryEntrySchema, type DeviceHistoryEntry } from '../../../shared/api.js';
import type { DeviceHistoryStore } from '../store.js';
import type { Db, Row } from './database.js';

export class SqliteDeviceHistory implements DeviceHistoryStore {
  constructor(private readonly db: Db) {}

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
