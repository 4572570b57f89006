import type { SettingsStore } from '../store.js';
import type { Engine, StoreDb } from './engine.js';

export class SqlSettings implements SettingsStore {
  constructor(
    private readonly db: StoreDb,
    _engine: Engine,
  ) {}

  async getSetting(key: string): Promise<string | null> {
    const row = await this.db.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirst();
    return row ? row.value : null;
  }

  async setSetting(key: string, value: string): Promise<void> {
    await this.db
      .insertInto('settings')
      .values({ key, value })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value }))
      .execute();
  }
}
