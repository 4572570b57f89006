import { PolicyBundleSchema, PolicyDocumentSchema } from '../../../shared/policy.js';
import type { PolicyRecord, PolicyStore } from '../store.js';
import type { Db, Row } from './database.js';

export class SqlitePolicies implements PolicyStore {
  /**
   * Every agent connection asks for the latest policy (heartbeat period, hello, AUP variant), so
   * it is parsed once and kept; this store is its only writer.
   */
  private latestCache: PolicyRecord | null | undefined = undefined;

  constructor(private readonly db: Db) {}

  async publishPolicy(build: (version: number) => PolicyRecord): Promise<PolicyRecord> {
    const record = this.db.transaction(() => {
      const built = build(highestPolicyVersion(this.db) + 1);
      this.db
        .prepare('INSERT INTO policies (version, bundle, document, published_by, published_at) VALUES (?, ?, ?, ?, ?)')
        .run(built.version, JSON.stringify(built.bundle), JSON.stringify(built.document), built.publishedBy, built.publishedAt);
      return built;
    })();
    this.latestCache = record;
    return record;
  }

  async latestPolicy(): Promise<PolicyRecord | null> {
    if (this.latestCache !== undefined) return this.latestCache;
    const row = this.db.prepare('SELECT * FROM policies ORDER BY version DESC LIMIT 1').get() as Row | undefined;
    this.latestCache = row
      ? {
          version: Number(row.version),
          bundle: PolicyBundleSchema.parse(JSON.parse(String(row.bundle))),
          document: PolicyDocumentSchema.parse(JSON.parse(String(row.document))),
          publishedBy: String(row.published_by),
          publishedAt: String(row.published_at),
        }
      : null;
    return this.latestCache;
  }

  async raisePolicyFloor(version: number): Promise<boolean> {
    return this.db.transaction(() => {
      if (version <= highestPolicyVersion(this.db)) return false;
      this.db
        .prepare(`INSERT INTO settings (key, value) VALUES ('policy.floor', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`)
        .run(String(version));
      return true;
    })();
  }

  async listPolicies(limit: number): Promise<Omit<PolicyRecord, 'bundle'>[]> {
    return (this.db.prepare('SELECT version, document, published_by, published_at FROM policies ORDER BY version DESC LIMIT ?').all(limit) as Row[]).map(
      (row) => ({
        version: Number(row.version),
        document: PolicyDocumentSchema.parse(JSON.parse(String(row.document))),
        publishedBy: String(row.published_by),
        publishedAt: String(row.published_at),
      }),
    );
  }
}

/** The highest version stored or reserved by the floor: new versions are numbered above it. */
function highestPolicyVersion(db: Db): number {
  const row = db
    .prepare(
      `SELECT MAX(COALESCE((SELECT MAX(version) FROM policies), 0),
                  COALESCE((SELECT CAST(value AS INTEGER) FROM settings WHERE key = 'policy.floor'), 0)) AS v`,
    )
    .get() as Row;
  return Number(row.v);
}
