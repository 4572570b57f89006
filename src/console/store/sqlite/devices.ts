import { DeviceStatusSchema } from '../../../shared/status.js';
import { ConflictError } from '../../errors.js';
import type { DeviceRecord, DeviceStore } from '../store.js';
import { isUniqueViolation, nullableNumber, nullableText, type Db, type Row } from './database.js';

export class SqliteDevices implements DeviceStore {
  constructor(private readonly db: Db) {}

  async enrollDevice(d: DeviceRecord, tokenId: string): Promise<boolean> {
    try {
      return this.db.transaction(() => {
        const used = this.db
          .prepare('UPDATE enroll_tokens SET uses = uses + 1 WHERE id = ? AND revoked = 0 AND (max_uses IS NULL OR uses < max_uses)')
          .run(tokenId);
        if (used.changes !== 1) return false;
        this.db
          .prepare(
            `INSERT INTO devices (id, public_key, hostname, platform, machine_id_hint, enrolled_at, enrolled_with)
             VALUES (?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(d.id, d.publicKey, d.hostname, d.platform, d.machineIdHint, d.enrolledAt, d.enrolledWith);
        return true;
      })();
    } catch (error) {
      if (isUniqueViolation(error)) throw new ConflictError('key-in-use', 'this device key is already enrolled');
      throw error;
    }
  }
  async getDevice(id: string): Promise<DeviceRecord | null> {
    const row = this.db.prepare('SELECT * FROM devices WHERE id = ?').get(id) as Row | undefined;
    return row ? toDevice(row) : null;
  }
  async listDevices(): Promise<DeviceRecord[]> {
    return (this.db.prepare('SELECT * FROM devices ORDER BY hostname, id').all() as Row[]).map(toDevice);
  }
  async findDevicesByMachineHint(hint: string): Promise<DeviceRecord[]> {
    return (this.db.prepare('SELECT * FROM devices WHERE machine_id_hint = ?').all(hint) as Row[]).map(toDevice);
  }
  async setCloneSuspect(ids: string[]): Promise<void> {
    const stmt = this.db.prepare('UPDATE devices SET clone_suspect = 1 WHERE id = ?');
    this.db.transaction(() => ids.forEach((id) => stmt.run(id)))();
  }
  async revokeDevice(id: string): Promise<boolean> {
    return this.db.prepare('UPDATE devices SET revoked = 1, online = 0 WHERE id = ? AND revoked = 0').run(id).changes === 1;
  }
  async markOnline(id: string, at: string, agentVersion: string | null): Promise<void> {
    this.db.prepare('UPDATE devices SET online = 1, last_seen_at = ?, agent_version = COALESCE(?, agent_version) WHERE id = ?').run(at, agentVersion, id);
  }
  async markOffline(id: string, at: string): Promise<void> {
    this.db.prepare('UPDATE devices SET online = 0, last_seen_at = ? WHERE id = ?').run(at, id);
  }
  async markAllOffline(): Promise<void> {
    this.db.prepare('UPDATE devices SET online = 0 WHERE online = 1').run();
  }
  async touchDevices(seen: [id: string, at: string][]): Promise<void> {
    const stmt = this.db.prepare('UPDATE devices SET last_seen_at = ? WHERE id = ?');
    this.db.transaction(() => seen.forEach(([id, at]) => stmt.run(at, id)))();
  }
  async saveStatus(id: string, status: unknown, at: string): Promise<void> {
    this.db.prepare('UPDATE devices SET status_json = ?, last_seen_at = ? WHERE id = ?').run(JSON.stringify(status), at, id);
  }
  async setPolicyVersion(id: string, version: number): Promise<void> {
    this.db.prepare('UPDATE devices SET policy_version = ? WHERE id = ?').run(version, id);
  }
}

function toDevice(row: Row): DeviceRecord {
  const status = row.status_json === null ? null : DeviceStatusSchema.safeParse(JSON.parse(String(row.status_json)));
  return {
    id: String(row.id),
    publicKey: String(row.public_key),
    hostname: String(row.hostname),
    platform: String(row.platform),
    machineIdHint: nullableText(row.machine_id_hint),
    enrolledAt: String(row.enrolled_at),
    enrolledWith: String(row.enrolled_with),
    revoked: row.revoked === 1,
    cloneSuspect: row.clone_suspect === 1,
    online: row.online === 1,
    lastSeenAt: nullableText(row.last_seen_at),
    agentVersion: nullableText(row.agent_version),
    policyVersion: nullableNumber(row.policy_version),
    status: status?.success ? status.data : null,
  };
}
