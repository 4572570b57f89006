import type { PresenceLeaseStore } from '../store.js';
import { changed, chunks, type Engine, type StoreDb } from './engine.js';

export class SqlPresenceLeases implements PresenceLeaseStore {
  constructor(
    private readonly db: StoreDb,
    _engine: Engine,
  ) {}

  async renewLease(processId: string, expiresAt: string): Promise<boolean> {
    const renewed = changed(await this.db.updateTable('console_leases').set({ expires_at: expiresAt }).where('process_id', '=', processId).executeTakeFirst());
    if (renewed === 1) return true;
    await this.db
      .insertInto('console_leases')
      .values({ process_id: processId, expires_at: expiresAt })
      .onConflict((oc) => oc.column('process_id').doUpdateSet({ expires_at: expiresAt }))
      .execute();
    return false;
  }

  async reclaimDevices(processId: string, deviceIds: readonly string[]): Promise<void> {
    for (const part of chunks(deviceIds, 500)) {
      await this.db.updateTable('devices').set({ online: 1, held_by: processId }).where('id', 'in', part).where('revoked', '=', 0).execute();
    }
  }

  async sweepLapsedLeases(now: string): Promise<{ processes: string[]; devices: string[] }> {
    return this.db.transaction().execute(async (trx) => {
      // Online with no live lease behind it: its holder lapsed, or wrote no lease (older builds).
      const devices = await trx
        .updateTable('devices')
        .set({ online: 0, held_by: null })
        .where('online', '=', 1)
        .where(({ not, exists, selectFrom }) =>
          not(
            exists(
              selectFrom('console_leases')
                .select('console_leases.process_id')
                .whereRef('console_leases.process_id', '=', 'devices.held_by')
                .where('console_leases.expires_at', '>', now),
            ),
          ),
        )
        .returning('id')
        .execute();
      const processes = await trx.deleteFrom('console_leases').where('expires_at', '<=', now).returning('process_id').execute();
      return { processes: processes.map((p) => p.process_id), devices: devices.map((d) => d.id) };
    });
  }

  async releaseLease(processId: string): Promise<void> {
    await this.db.deleteFrom('console_leases').where('process_id', '=', processId).execute();
  }
}
