import { sql } from 'kysely';
import { SignedAupSchema, type AupCoverageRow, type AupReceipt } from '../../../shared/aup.js';
import type { AupCoverageFilter, AupRecord, AupStore } from '../store.js';
import { changed, LatestRead, type Engine, type StoreDb } from './engine.js';
import type { ConsoleTables } from './schema.js';

export class SqlAups implements AupStore {
  /** Sent to every device on connect: read through per variant. */
  private readonly latest = new Map<string, LatestRead<AupRecord | null>>();

  constructor(
    private readonly db: StoreDb,
    private readonly engine: Engine,
  ) {}

  async publishAup(variant: string, build: (version: number) => AupRecord): Promise<AupRecord> {
    const record = await this.engine.allocatingTransaction('aups', async (trx) => {
      const row = await trx
        .selectFrom('aups')
        .select((eb) => eb.fn.max('version').as('v'))
        .where('variant', '=', variant)
        .executeTakeFirst();
      const built = build(Number(row?.v ?? 0) + 1);
      await trx
        .insertInto('aups')
        .values({
          variant: built.variant,
          version: built.version,
          signed: JSON.stringify(built.signed),
          published_by: built.publishedBy,
          published_at: built.publishedAt,
        })
        .execute();
      return built;
    });
    this.latestOf(variant).wrote(record);
    return record;
  }
  async latestAup(variant: string): Promise<AupRecord | null> {
    return this.latestOf(variant).get(async () => {
      const row = await this.db.selectFrom('aups').selectAll().where('variant', '=', variant).orderBy('version', 'desc').limit(1).executeTakeFirst();
      return row ? toAup(row) : null;
    });
  }
  private latestOf(variant: string): LatestRead<AupRecord | null> {
    let read = this.latest.get(variant);
    if (!read) this.latest.set(variant, (read = new LatestRead(this.engine)));
    return read;
  }
  async aupVersion(variant: string, version: number): Promise<AupRecord | null> {
    const row = await this.db.selectFrom('aups').selectAll().where('variant', '=', variant).where('version', '=', version).executeTakeFirst();
    return row ? toAup(row) : null;
  }
  async listAups(): Promise<Omit<AupRecord, 'signed'>[]> {
    const rows = await this.db
      .selectFrom('aups')
      .select(['variant', 'version', 'published_by', 'published_at'])
      .orderBy('variant')
      .orderBy('version', 'desc')
      .execute();
    return rows.map((row) => ({ variant: row.variant, version: Number(row.version), publishedBy: row.published_by, publishedAt: row.published_at }));
  }
  async insertAupReceipt(receipt: AupReceipt, receivedAt: string): Promise<boolean> {
    const p = receipt.payload;
    const result = await this.db
      .insertInto('aup_receipts')
      .values({
        device_id: p.deviceId,
        user: p.user,
        variant: p.variant,
        version: p.version,
        aup_hash: p.aupHash,
        typed_name: p.typedName,
        accepted_at: p.acceptedAt,
        received_at: receivedAt,
        receipt: JSON.stringify(receipt),
      })
      .onConflict((oc) => oc.doNothing())
      .executeTakeFirst();
    return changed(result) === 1;
  }
  async aupAcceptedAt(user: string, variant: string, version: number, aupHash: string): Promise<string | null> {
    const row = await this.db
      .selectFrom('aup_receipts')
      .select((eb) => eb.fn.min('accepted_at').as('at'))
      .where('variant', '=', variant)
      .where('user', '=', user)
      .where('version', '=', version)
      .where('aup_hash', '=', aupHash)
      .executeTakeFirst();
    return row?.at ? String(row.at) : null;
  }
  async aupCoverage(filter: AupCoverageFilter): Promise<AupCoverageRow[]> {
    let query = this.db
      .selectFrom('aup_receipts as r')
      .innerJoin('devices as d', 'd.id', 'r.device_id')
      .select([
        'r.variant',
        'r.version',
        'r.user',
        'r.device_id',
        'd.hostname',
        'r.typed_name',
        'r.accepted_at',
        sql<number>`CASE WHEN r.version = (SELECT MAX(a.version) FROM aups a WHERE a.variant = r.variant) THEN 1 ELSE 0 END`.as('current'),
      ]);
    if (filter.variant) query = query.where('r.variant', '=', filter.variant);
    const rows = await query.orderBy('r.variant').orderBy('r.user').orderBy('r.version', 'desc').orderBy('r.accepted_at').execute();
    return rows.map((row) => ({
      variant: row.variant,
      version: Number(row.version),
      user: row.user,
      deviceId: row.device_id,
      hostname: row.hostname,
      typedName: row.typed_name,
      acceptedAt: row.accepted_at,
      current: Number(row.current) === 1,
    }));
  }
  async hasAupReceipt(deviceId: string, user: string, variant: string, version: number): Promise<boolean> {
    const row = await this.db
      .selectFrom('aup_receipts')
      .select('id')
      .where('device_id', '=', deviceId)
      .where('user', '=', user)
      .where('variant', '=', variant)
      .where('version', '=', version)
      .executeTakeFirst();
    return !!row;
  }
}

function toAup(row: ConsoleTables['aups']): AupRecord {
  return {
    variant: row.variant,
    version: Number(row.version),
    signed: SignedAupSchema.parse(JSON.parse(row.signed)),
    publishedBy: row.published_by,
    publishedAt: row.published_at,
  };
}
