import type { StationRecord } from '../../../shared/usb-policy.js';
import type { StationStore } from '../store.js';
import { changed, type Engine, type StoreDb } from './engine.js';

export class SqlStations implements StationStore {
  constructor(
    private readonly db: StoreDb,
    _engine: Engine,
  ) {}

  async insertStationKey(r: Parameters<StationStore['insertStationKey']>[0]): Promise<boolean> {
    const result = await this.db
      .insertInto('station_keys')
      .values({ id: r.id, public_key: r.publicKey, key_id: r.keyId, registered_by: r.registeredBy, registered_at: r.registeredAt })
      .onConflict((oc) => oc.doNothing())
      .executeTakeFirst();
    return changed(result) === 1;
  }
  async listStationKeys(): Promise<StationRecord[]> {
    const rows = await this.db.selectFrom('station_keys').selectAll().orderBy('registered_at').orderBy('id').execute();
    return rows.map((row) => ({
      id: row.id,
      publicKey: row.public_key,
      keyId: row.key_id,
      registeredBy: row.registered_by,
      registeredAt: row.registered_at,
      revokedBy: row.revoked_by,
      revokedAt: row.revoked_at,
    }));
  }
  async revokeStationKey(id: string, by: string, at: string): Promise<boolean> {
    const result = await this.db
      .updateTable('station_keys')
      .set({ revoked_by: by, revoked_at: at })
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return changed(result) === 1;
  }
}
