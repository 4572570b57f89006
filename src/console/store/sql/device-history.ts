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
  async usersSeen(): Promise<{ deviceId: string; user: string; lastSeenAt: string }[]> {
    // Status snapshots in the history, plus the status the device holds now (written on every
    // report, while history keeps changes only): each account in `users` or `user`. Read in code,
    // not with each engine's JSON functions, so both engines share it.
    const latest = new Map<string, { deviceId: string; user: string; lastSeenAt: string }>();
    const note = (deviceId: string, at: string, status: unknown) => {
      const s = (status ?? {}) as { user?: unknown; users?: unknown };
      const names = [s.user, ...(Array.isArray(s.users) ? s.users : [])];
      for (const user of names) {
        if (typeof user !== 'string' || user === '') continue;
        const key = `${deviceId}\0${user}`;
        const seen = latest.get(key);
        if (!seen || seen.lastSeenAt < at) latest.set(key, { deviceId, user, lastSeenAt: at });
      }
    };
    const history = await this.db.selectFrom('device_history').select(['device_id', 'at', 'body']).where('kind', '=', 'status').execute();
    for (const row of history) note(row.device_id, row.at, (JSON.parse(row.body) as { status?: unknown }).status);
    const devices = await this.db
      .selectFrom('devices')
      .select(['id', 'last_seen_at', 'status_json'])
      .where('status_json', 'is not', null)
      .where('last_seen_at', 'is not', null)
      .execute();
    for (const d of devices) note(d.id, d.last_seen_at!, JSON.parse(d.status_json!));
    return [...latest.values()].sort((a, b) => (a.deviceId === b.deviceId ? (a.user < b.user ? -1 : 1) : a.deviceId < b.deviceId ? -1 : 1));
  }
  async deleteDeviceHistoryBefore(iso: string): Promise<number> {
    return changed(await this.db.deleteFrom('device_history').where('at', '<', iso).executeTakeFirst());
  }
}
