import { sql, type Selectable } from 'kysely';
import { DeviceStatusSchema } from '../../../shared/status.js';
import { ConflictError } from '../../errors.js';
import type { DeviceRecord, DeviceStore } from '../store.js';
import { changed, chunks, nullableNumber, type Engine, type StoreDb } from './engine.js';
import type { ConsoleTables } from './schema.js';

/** Up to this many distinct values in one batch are written one UPDATE per value (setColumnById). */
const FEW_VALUES = 4;

export class SqlDevices implements DeviceStore {
  constructor(
    private readonly db: StoreDb,
    private readonly engine: Engine,
  ) {}

  async enrollDevice(d: DeviceRecord, tokenId: string): Promise<boolean> {
    try {
      return await this.db.transaction().execute(async (trx) => {
        const used = await trx
          .updateTable('enroll_tokens')
          .set((eb) => ({ uses: eb('uses', '+', 1) }))
          .where('id', '=', tokenId)
          .where('revoked', '=', 0)
          .where((eb) => eb.or([eb('max_uses', 'is', null), eb('uses', '<', eb.ref('max_uses'))]))
          .executeTakeFirst();
        if (changed(used) !== 1) return false;
        await trx
          .insertInto('devices')
          .values({
            id: d.id,
            public_key: d.publicKey,
            hostname: d.hostname,
            platform: d.platform,
            machine_id_hint: d.machineIdHint,
            enrolled_at: d.enrolledAt,
            enrolled_with: d.enrolledWith,
          })
          .execute();
        return true;
      });
    } catch (error) {
      if (this.engine.isUniqueViolation(error)) throw new ConflictError('key-in-use', 'this device key is already enrolled');
      throw error;
    }
  }
  async getDevice(id: string): Promise<DeviceRecord | null> {
    const row = await this.db.selectFrom('devices').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toDevice(row) : null;
  }
  async listDevices(): Promise<DeviceRecord[]> {
    return (await this.db.selectFrom('devices').selectAll().orderBy('hostname').orderBy('id').execute()).map(toDevice);
  }
  async findDevicesByMachineHint(hint: string): Promise<DeviceRecord[]> {
    return (await this.db.selectFrom('devices').selectAll().where('machine_id_hint', '=', hint).execute()).map(toDevice);
  }
  async setCloneSuspect(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.db.updateTable('devices').set({ clone_suspect: 1 }).where('id', 'in', ids).execute();
  }
  async revokeDevice(id: string): Promise<boolean> {
    return changed(await this.db.updateTable('devices').set({ revoked: 1, online: 0 }).where('id', '=', id).where('revoked', '=', 0).executeTakeFirst()) === 1;
  }
  async markOnline(id: string, at: string, agentVersion: string | null, holder: string, policyVersion: number | null = null): Promise<void> {
    await this.db
      .updateTable('devices')
      .set((eb) => ({
        online: 1,
        held_by: holder,
        last_seen_at: at,
        agent_version: eb.fn.coalesce(eb.val(agentVersion), eb.ref('agent_version')),
        ...(policyVersion === null ? {} : { policy_version: policyVersion }),
      }))
      .where('id', '=', id)
      .execute();
  }
  async markOffline(id: string, at: string, holder: string): Promise<void> {
    await this.db
      .updateTable('devices')
      .set({ online: 0, held_by: null, last_seen_at: at })
      .where('id', '=', id)
      .where((eb) => eb.or([eb('held_by', '=', holder), eb('held_by', 'is', null), eb('online', '=', 0)]))
      .execute();
  }
  async markAllOffline(): Promise<void> {
    await this.db.updateTable('devices').set({ online: 0, held_by: null }).where('online', '=', 1).execute();
  }
  async touchDevices(seen: [id: string, at: string][]): Promise<void> {
    await this.setColumnById('last_seen_at', seen);
  }
  async saveStatus(id: string, status: unknown, at: string): Promise<void> {
    await this.db
      .updateTable('devices')
      .set({ status_json: JSON.stringify(status), last_seen_at: at })
      .where('id', '=', id)
      .execute();
  }
  async setDeviceHostname(id: string, hostname: string): Promise<void> {
    await this.db.updateTable('devices').set({ hostname }).where('id', '=', id).execute();
  }
  async setPolicyVersions(versions: [id: string, version: number][]): Promise<void> {
    await this.setColumnById('policy_version', versions);
  }

  /**
   * One column of many devices, each its own value: a few statements for thousands of devices,
   * one round trip per chunk, not per device. Each chunk commits by itself, in id order: these are
   * soft state (heartbeats, policy acks), and one transaction holding row locks across chunks
   * deadlocks with another process's batch (or a lease sweep) taking the same devices in another
   * order, as happens when devices move between processes.
   */
  private async setColumnById<V extends string | number>(column: 'last_seen_at' | 'policy_version', values: [id: string, value: V][]): Promise<void> {
    const sorted = [...values].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const byValue = new Map<V, string[]>();
    for (const [id, value] of sorted) {
      const ids = byValue.get(value);
      if (ids) ids.push(id);
      else byValue.set(value, [id]);
    }
    // A rollout's acks carry one version: one plain UPDATE per value, looked up by the index,
    // instead of a CASE of 500 branches tried for each of 500 rows.
    if (byValue.size <= FEW_VALUES) {
      for (const [value, ids] of byValue)
        for (const part of chunks(ids, 500))
          await this.db
            .updateTable('devices')
            .set({ [column]: value })
            .where('id', 'in', part)
            .execute();
      return;
    }
    for (const part of chunks(sorted, 500)) {
      const when = sql.join(
        part.map(([id, value]) => sql`WHEN ${id} THEN ${value}`),
        sql` `,
      );
      // Parameters reach PostgreSQL untyped, so a CASE of them is text: a number column is cast.
      const value = column === 'policy_version' ? sql<V>`CAST(CASE id ${when} END AS BIGINT)` : sql<V>`CASE id ${when} END`;
      await this.db
        .updateTable('devices')
        .set({ [column]: value })
        .where(
          'id',
          'in',
          part.map(([id]) => id),
        )
        .execute();
    }
  }
}

function toDevice(row: Selectable<ConsoleTables['devices']>): DeviceRecord {
  const status = row.status_json === null ? null : DeviceStatusSchema.safeParse(JSON.parse(row.status_json));
  return {
    id: row.id,
    publicKey: row.public_key,
    hostname: row.hostname,
    platform: row.platform,
    machineIdHint: row.machine_id_hint,
    enrolledAt: row.enrolled_at,
    enrolledWith: row.enrolled_with,
    revoked: Number(row.revoked) === 1,
    cloneSuspect: Number(row.clone_suspect) === 1,
    online: Number(row.online) === 1,
    lastSeenAt: row.last_seen_at,
    agentVersion: row.agent_version,
    policyVersion: nullableNumber(row.policy_version),
    status: status?.success ? status.data : null,
  };
}
