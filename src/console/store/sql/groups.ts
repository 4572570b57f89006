import { MembershipRuleSchema, type DeviceGroup } from '../../../shared/policies/model.js';
import { OwnershipSchema, type Ownership } from '../../../shared/session.js';
import type { GroupStore, PolicyChange } from '../store.js';
import type { Engine, StoreDb, StoreTrx } from './engine.js';

export class SqlGroups implements GroupStore {
  constructor(
    private readonly db: StoreDb,
    _engine: Engine,
  ) {}

  async listGroups(): Promise<DeviceGroup[]> {
    const members = new Map<string, string[]>();
    for (const row of await this.db.selectFrom('group_devices').select(['group_name', 'device_id']).orderBy('group_name').orderBy('device_id').execute())
      members.set(row.group_name, [...(members.get(row.group_name) ?? []), row.device_id]);
    return (await this.db.selectFrom('device_groups').selectAll().orderBy('name').execute()).map((row) => ({
      name: row.name,
      displayName: row.display_name,
      ...(row.description !== null && row.description !== undefined ? { description: row.description } : {}),
      devices: members.get(row.name) ?? [],
      rules: MembershipRuleSchema.array().parse(JSON.parse(row.rules)),
    }));
  }

  async listTokenGroups(): Promise<Map<string, string[]>> {
    const map = new Map<string, string[]>();
    for (const row of await this.db.selectFrom('enroll_token_groups').select(['token_id', 'group_name']).orderBy('token_id').orderBy('group_name').execute())
      map.set(row.token_id, [...(map.get(row.token_id) ?? []), row.group_name]);
    return map;
  }

  async listDeviceOwnership(): Promise<Map<string, Ownership>> {
    const rows = await this.db.selectFrom('device_ownership').select(['device_id', 'ownership']).execute();
    return new Map(rows.map((row) => [row.device_id, OwnershipSchema.parse(row.ownership)]));
  }

  async deviceOwnership(deviceId: string): Promise<Ownership | null> {
    const row = await this.db.selectFrom('device_ownership').select('ownership').where('device_id', '=', deviceId).executeTakeFirst();
    return row ? OwnershipSchema.parse(row.ownership) : null;
  }
}

/** The group parts of a policy change (called inside its transaction). */
export async function writeGroupChanges(trx: StoreTrx, change: PolicyChange): Promise<void> {
  if (change.renameGroup) await trx.updateTable('device_groups').set({ name: change.renameGroup.to }).where('name', '=', change.renameGroup.from).execute();
  for (const group of change.putGroups ?? []) {
    const fields = { display_name: group.displayName, description: group.description ?? null, rules: JSON.stringify(group.rules) };
    await trx
      .insertInto('device_groups')
      .values({ name: group.name, ...fields })
      .onConflict((oc) => oc.column('name').doUpdateSet(fields))
      .execute();
    await trx.deleteFrom('group_devices').where('group_name', '=', group.name).execute();
    if (group.devices.length > 0)
      await trx
        .insertInto('group_devices')
        .values(group.devices.map((device_id) => ({ group_name: group.name, device_id })))
        .onConflict((oc) => oc.doNothing())
        .execute();
  }
  for (const { tokenId, groups } of change.tokenGroups ?? []) {
    await trx.deleteFrom('enroll_token_groups').where('token_id', '=', tokenId).execute();
    if (groups.length > 0)
      await trx
        .insertInto('enroll_token_groups')
        .values(groups.map((group_name) => ({ token_id: tokenId, group_name })))
        .onConflict((oc) => oc.doNothing())
        .execute();
  }
  for (const { deviceId, ownership } of change.ownership ?? []) {
    if (ownership === null) await trx.deleteFrom('device_ownership').where('device_id', '=', deviceId).execute();
    else
      await trx
        .insertInto('device_ownership')
        .values({ device_id: deviceId, ownership })
        .onConflict((oc) => oc.column('device_id').doUpdateSet({ ownership }))
        .execute();
  }
}

/** Deletions come last, after the assignments that named the groups were replaced. */
export async function deleteGroups(trx: StoreTrx, change: PolicyChange): Promise<void> {
  for (const name of change.deleteGroups ?? []) await trx.deleteFrom('device_groups').where('name', '=', name).execute();
}
