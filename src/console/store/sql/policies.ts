import { PolicyBundleSchema, PolicyDocumentSchema } from '../../../shared/policy.js';
import type { PolicyRecord, PolicyStore } from '../store.js';
import { LatestRead, type Engine, type StoreDb, type StoreTrx } from './engine.js';

const FLOOR_KEY = 'policy.floor';

export class SqlPolicies implements PolicyStore {
  /** Every agent connection asks for the latest policy (heartbeat period, hello, AUP variant). */
  private readonly latest: LatestRead<PolicyRecord | null>;

  constructor(
    private readonly db: StoreDb,
    private readonly engine: Engine,
  ) {
    this.latest = new LatestRead(engine);
  }

  async publishPolicy(build: (version: number) => PolicyRecord): Promise<PolicyRecord> {
    const record = await this.engine.allocatingTransaction('policies', async (trx) => {
      const built = build((await highestPolicyVersion(trx)) + 1);
      await trx
        .insertInto('policies')
        .values({
          version: built.version,
          bundle: JSON.stringify(built.bundle),
          document: JSON.stringify(built.document),
          published_by: built.publishedBy,
          published_at: built.publishedAt,
        })
        .execute();
      return built;
    });
    this.latest.wrote(record);
    return record;
  }

  async latestPolicy(): Promise<PolicyRecord | null> {
    return this.latest.get(() => this.readLatest());
  }

  private async readLatest(): Promise<PolicyRecord | null> {
    const row = await this.db.selectFrom('policies').selectAll().orderBy('version', 'desc').limit(1).executeTakeFirst();
    const record = row
      ? {
          version: Number(row.version),
          bundle: PolicyBundleSchema.parse(JSON.parse(row.bundle)),
          document: PolicyDocumentSchema.parse(JSON.parse(row.document)),
          publishedBy: row.published_by,
          publishedAt: row.published_at,
        }
      : null;
    return record;
  }

  async raisePolicyFloor(version: number): Promise<boolean> {
    return this.engine.allocatingTransaction('policies', async (trx) => {
      if (version <= (await highestPolicyVersion(trx))) return false;
      await setPolicyFloor(trx, version);
      return true;
    });
  }

  async listPolicies(limit: number): Promise<Omit<PolicyRecord, 'bundle'>[]> {
    const rows = await this.db
      .selectFrom('policies')
      .select(['version', 'document', 'published_by', 'published_at'])
      .orderBy('version', 'desc')
      .limit(limit)
      .execute();
    return rows.map((row) => ({
      version: Number(row.version),
      document: PolicyDocumentSchema.parse(JSON.parse(row.document)),
      publishedBy: row.published_by,
      publishedAt: row.published_at,
    }));
  }
}

/** The highest version stored or reserved by the floor: new versions are numbered above it. */
export async function highestPolicyVersion(trx: StoreTrx): Promise<number> {
  const stored = await trx
    .selectFrom('policies')
    .select((eb) => eb.fn.max('version').as('v'))
    .executeTakeFirst();
  const floor = await trx.selectFrom('settings').select('value').where('key', '=', FLOOR_KEY).executeTakeFirst();
  return Math.max(Number(stored?.v ?? 0), Number(floor?.value ?? 0));
}

/** Reserves every version up to `version`: the next one published is numbered above it. */
export async function setPolicyFloor(trx: StoreTrx, version: number): Promise<void> {
  await trx
    .insertInto('settings')
    .values({ key: FLOOR_KEY, value: String(version) })
    .onConflict((oc) => oc.column('key').doUpdateSet({ value: String(version) }))
    .execute();
}
