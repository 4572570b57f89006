import { DeviceHistoryEntrySchema, type DeviceHistoryEntry } from '../../../shared/api.js';
import type { DeviceHistoryStore } from '../store.js';
import { changed, type Engine, type StoreDb } from './engine.js';

export class SqlDeviceHistory implements DeviceHistoryStore {
  constructor(
    private readonly db: StoreDb,
    _engine: Engine,
  ) {}

  async appendDeviceHistory(deviceId: string, entry: DeviceHistoryEntry): Promise<void> {
    const { at, kind, ...body } = entry;
    await this.db
      .insertInto('device_history')
      .values({ device_id: deviceId, at, kind, body: JSON.stringify(body) })
      .execute();
  }
  async listDeviceHistory(deviceId: string, filter: { limit: number; kind?: DeviceHistoryEntry['kind'] }): Promise<DeviceHistoryEntry[]> {
    let query = this.db.selectFrom('device_history').select(['at', 'kind', 'body']).where('device_id', '=', deviceId);
    if (filter.kind) query = query.where('kind', '=', filter.kind);
    const rows = await query.orderBy('id', 'desc').limit(filter.limit).execute();
    return rows.flatMap((row) => {
      const parsed = DeviceHistoryEntrySchema.safeParse({ at: row.at, kind: row.kind, ...(JSON.parse(row.body) as object) });
      return parsed.success ? [parsed.data] : [];
    });
  }
  async deleteDeviceHistoryBefore(iso: string): Promise<number> {
    return changed(await this.db.deleteFrom('device_history').where('at', '<', iso).executeTakeFirst());
  }
}
