import { SignedAupSchema, type AupCoverageRow, type AupReceipt } from '../../../shared/aup.js';
import type { AupCoverageFilter, AupRecord, AupStore } from '../store.js';
import type { Db, Row } from './database.js';

export class SqliteAups implements AupStore {
  /** Sent to every device on connect; parsed once per variant (this store is the only writer). */
  private readonly latestCache = new Map<string, AupRecord | null>();

  constructor(private readonly db: Db) {}

  async publishAup(variant: string, build: (version: number) => AupRecord): Promise<AupRecord> {
    const record = this.db.transaction(() => {
      const row = this.db.prepare('SELECT COALESCE(MAX(version), 0) AS v FROM aups WHERE variant = ?').get(variant) as Row;
      const built = build(Number(row.v) + 1);
      this.db
        .prepare('INSERT INTO aups (variant, version, signed, published_by, published_at) VALUES (?, ?, ?, ?, ?)')
        .run(built.variant, built.version, JSON.stringify(built.signed), built.publishedBy, built.publishedAt);
      return built;
    })();
    this.latestCache.set(variant, record);
    return record;
  }
  async latestAup(variant: string): Promise<AupRecord | null> {
    if (this.latestCache.has(variant)) return this.latestCache.get(variant)!;
    const row = this.db.prepare('SELECT * FROM aups WHERE variant = ? ORDER BY version DESC LIMIT 1').get(variant) as Row | undefined;
    const record = row ? toAup(row) : null;
    this.latestCache.set(variant, record);
    return record;
  }
  async aupVersion(variant: string, version: number): Promise<AupRecord | null> {
    const row = this.db.prepare('SELECT * FROM aups WHERE variant = ? AND version = ?').get(variant, version) as Row | undefined;
    return row ? toAup(row) : null;
  }
  async listAups(): Promise<Omit<AupRecord, 'signed'>[]> {
    return (this.db.prepare('SELECT variant, version, published_by, published_at FROM aups ORDER BY variant, version DESC').all() as Row[]).map((row) => ({
      variant: String(row.variant),
      version: Number(row.version),
      publishedBy: String(row.published_by),
      publishedAt: String(row.published_at),
    }));
  }
  async insertAupReceipt(receipt: AupReceipt, receivedAt: string): Promise<boolean> {
    const p = receipt.payload;
    return (
      this.db
        .prepare(
          `INSERT INTO aup_receipts (device_id, user, variant, version, aup_hash, typed_name, accepted_at, received_at, receipt)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
        )
        .run(p.deviceId, p.user, p.variant, p.version, p.aupHash, p.typedName, p.acceptedAt, receivedAt, JSON.stringify(receipt)).changes === 1
    );
  }
  async aupAcceptedAt(user: string, variant: string, version: number, aupHash: string): Promise<string | null> {
    const row = this.db
      .prepare('SELECT MIN(accepted_at) AS at FROM aup_receipts WHERE variant = ? AND user = ? AND version = ? AND aup_hash = ?')
      .get(variant, user, version, aupHash) as Row | undefined;
    return row?.at ? String(row.at) : null;
  }
  async aupCoverage(filter: AupCoverageFilter): Promise<AupCoverageRow[]> {
    const rows = this.db
      .prepare(
        `SELECT r.variant, r.version, r.user, r.device_id, d.hostname, r.typed_name, r.accepted_at,
                r.version = (SELECT MAX(version) FROM aups a WHERE a.variant = r.variant) AS current
         FROM aup_receipts r JOIN devices d ON d.id = r.device_id
         ${filter.variant ? 'WHERE r.variant = ?' : ''}
         ORDER BY r.variant, r.user, r.version DESC, r.accepted_at`,
      )
      .all(...(filter.variant ? [filter.variant] : [])) as Row[];
    return rows.map((row) => ({
      variant: String(row.variant),
      version: Number(row.version),
      user: String(row.user),
      deviceId: String(row.device_id),
      hostname: String(row.hostname),
      typedName: String(row.typed_name),
      acceptedAt: String(row.accepted_at),
      current: row.current === 1,
    }));
  }
  async hasAupReceipt(deviceId: string, user: string, variant: string, version: number): Promise<boolean> {
    return !!this.db
      .prepare('SELECT 1 FROM aup_receipts WHERE device_id = ? AND user = ? AND variant = ? AND version = ?')
      .get(deviceId, user, variant, version);
  }
}

function toAup(row: Row): AupRecord {
  return {
    variant: String(row.variant),
    version: Number(row.version),
    signed: SignedAupSchema.parse(JSON.parse(String(row.signed))),
    publishedBy: String(row.published_by),
    publishedAt: String(row.published_at),
  };
}
