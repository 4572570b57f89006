import { MembershipRuleSchema, type DeviceGroup } from '../../../shared/policies/model.js';
import { OwnershipSchema, type Ownership } from '../../../shared/session.js';
import type { GroupStore, PolicyChange } from '../store.js';
import { nullableText, type Db, type Row } from './database.js';

export class SqliteGroups implements GroupStore {
  constructor(private readonly db: Db) {}

  async listGroups(): Promise<DeviceGroup[]> {
    const members = new Map<string, string[]>();
    for (const row of this.db.prepare('SELECT group_name, device_id FROM group_devices ORDER BY group_name, device_id').all() as Row[]) {
      const name = String(row.group_name);
      members.set(name, [...(members.get(name) ?? []), String(row.device_id)]);
    }
    return (this.db.prepare('SELECT * FROM device_groups ORDER BY name').all() as Row[]).map((row) => {
      const description = nullableText(row.description);
      return {
        name: String(row.name),
        displayName: String(row.display_name),
        ...(description !== null ? { description } : {}),
        devices: members.get(String(row.name)) ?? [],
        rules: MembershipRuleSchema.array().parse(JSON.parse(String(row.rules))),
      };
    });
  }

  async listTokenGroups(): Promise<Map<string, string[]>> {
    const map = new Map<string, string[]>();
    for (const row of this.db.prepare('SELECT token_id, group_name FROM enroll_token_groups ORDER BY token_id, group_name').all() as Row[])
      map.set(String(row.token_id), [...(map.get(String(row.token_id)) ?? []), String(row.group_name)]);
    return map;
  }

  async listDeviceOwnership(): Promise<Map<string, Ownership>> {
    const rows = this.db.prepare('SELECT device_id, ownership FROM device_ownership').all() as Row[];
    return new Map(rows.map((row) => [String(row.device_id), OwnershipSchema.parse(row.ownership)]));
  }
}

/** The group parts of a policy change (called inside its transaction). */
export function writeGroupChanges(db: Db, change: PolicyChange): void {
  if (change.renameGroup) db.prepare('UPDATE device_groups SET name = ? WHERE name = ?').run(change.renameGroup.to, change.renameGroup.from);
  for (const group of change.putGroups ?? []) {
    db.prepare(
      `INSERT INTO device_groups (name, display_name, description, rules) VALUES (?, ?, ?, ?)
       ON CONFLICT(name) DO UPDATE SET display_name = excluded.display_name, description = excluded.description, rules = excluded.rules`,
    ).run(group.name, group.displayName, group.description ?? null, JSON.stringify(group.rules));
    db.prepare('DELETE FROM group_devices WHERE group_name = ?').run(group.name);
    const insert = db.prepare('INSERT INTO group_devices (group_name, device_id) VALUES (?, ?) ON CONFLICT DO NOTHING');
    for (const id of group.devices) insert.run(group.name, id);
  }
  for (const { tokenId, groups } of change.tokenGroups ?? []) {
    db.prepare('DELETE FROM enroll_token_groups WHERE token_id = ?').run(tokenId);
    for (const group of groups) db.prepare('INSERT INTO enroll_token_groups (token_id, group_name) VALUES (?, ?) ON CONFLICT DO NOTHING').run(tokenId, group);
  }
  for (const { deviceId, ownership } of change.ownership ?? []) {
    if (ownership === null) db.prepare('DELETE FROM device_ownership WHERE device_id = ?').run(deviceId);
    else
      db.prepare('INSERT INTO device_ownership (device_id, ownership) VALUES (?, ?) ON CONFLICT(device_id) DO UPDATE SET ownership = excluded.ownership').run(
        deviceId,
        ownership,
      );
  }
}

/** Deletions come last, after the assignments that named the groups were replaced. */
export function deleteGroups(db: Db, change: PolicyChange): void {
  for (const name of change.deleteGroups ?? []) db.prepare('DELETE FROM device_groups WHERE name = ?').run(name);
}
