import type { StationRecord } from '../../../shared/usb-policy.js';
import type { StationStore } from '../store.js';
import { nullableText, type Db, type Row } from './database.js';

export class SqliteStations implements StationStore {
  constructor(private readonly db: Db) {}

  async insertStationKey(r: Parameters<StationStore['insertStationKey']>[0]): Promise<boolean> {
    const info = this.db
      .prepare('INSERT OR IGNORE INTO station_keys (id, public_key, key_id, registered_by, registered_at) VALUES (?, ?, ?, ?, ?)')
      .run(r.id, r.publicKey, r.keyId, r.registeredBy, r.registeredAt);
    return info.changes === 1;
  }
  async listStationKeys(): Promise<StationRecord[]> {
    return (this.db.prepare('SELECT * FROM station_keys ORDER BY registered_at, id').all() as Row[]).map((row) => ({
      id: String(row.id),
      publicKey: String(row.public_key),
      keyId: String(row.key_id),
      registeredBy: String(row.registered_by),
      registeredAt: String(row.registered_at),
      revokedBy: nullableText(row.revoked_by),
      revokedAt: nullableText(row.revoked_at),
    }));
  }
  async revokeStationKey(id: string, by: string, at: string): Promise<boolean> {
    return this.db.prepare('UPDATE station_keys SET revoked_by = ?, revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(by, at, id).changes === 1;
  }
}
