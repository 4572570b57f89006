import { setImmediate as yieldToEvents } from 'node:timers/promises';
import { z } from 'zod';
import { POLICY_LIMITS } from '../../../shared/policy-limits.js';
import { PolicyBundleSchema, PolicyDocumentSchema, type PolicyBundle } from '../../../shared/policy.js';
import type { PolicyRecord, PolicyStore, StoredBundleBytes, StoredPolicySet } from '../store.js';
import { LatestRead, type Engine, type StoreDb, type StoreTrx } from './engine.js';
import { storedText } from './stored-text.js';

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
      await insertPolicy(trx, built);
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
    if (!row) return null;
    const bundle = bundleOf(row);
    return { version: Number(row.version), bundle, document: documentOf(row, () => bundle), publishedBy: row.published_by, publishedAt: row.published_at };
  }

  async savePolicySets(sets: StoredPolicySet[], fleet: PolicyRecord | null): Promise<void> {
    await this.engine.durableTransaction(async (trx) => {
      for (const set of sets) {
        const row = {
          groups: JSON.stringify(set.groups),
          version: set.bundle.payload.version,
          ...bundleColumns(set.bundle, set.bundleJson, set.encoded),
          content_digest: set.contentDigest,
          next_change_at: set.nextChangeAt,
        };
        await trx
          .insertInto('policy_sets')
          .values({ set_key: set.key, ...row })
          .onConflict((oc) => oc.column('set_key').doUpdateSet(row))
          .execute();
        // A signed set of 100,000 rules is an 11 MB row, and SQLite writes it on the event loop:
        // the console reads its sockets between rows (store calls wait for the transaction).
        await yieldToEvents();
      }
      if (fleet) await insertPolicy(trx, fleet);
    });
    if (fleet) {
      // What readers get is the record, as a read would give it: not the writer's texts.
      const { json: _texts, encoded: _bytes, ...record } = fleet;
      this.latest.wrote(record);
    }
  }

  async listPolicySets(): Promise<StoredPolicySet[]> {
    const rows = await this.db.selectFrom('policy_sets').selectAll().orderBy('set_key').execute();
    return rows.map((row) => ({
      key: row.set_key,
      groups: z.array(z.string()).parse(JSON.parse(row.groups)),
      bundle: bundleOf(row),
      contentDigest: row.content_digest,
      nextChangeAt: row.next_change_at,
    }));
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
      .select(['version', 'document', 'published_by', 'published_at', 'bundle_encoded', 'encoding'])
      .orderBy('version', 'desc')
      .limit(limit)
      .execute();
    // A record stored compressed has no document text: it is read from its bundle (a row stored as JSON has no bundle bytes to read).
    return rows.map((row) => ({
      version: Number(row.version),
      document: documentOf(row, () => bundleOf({ ...row, bundle: '' })),
      publishedBy: row.published_by,
      publishedAt: row.published_at,
    }));
  }
}

/**
 * A signed bundle's columns: compressed as served when the writer has those bytes (a third of the
 * JSON's size, and no 11 MB text to turn into bytes again), its JSON otherwise.
 */
function bundleColumns(bundle: PolicyBundle, json: string | undefined, encoded: StoredBundleBytes | undefined) {
  return encoded
    ? { bundle: '', bundle_encoded: encoded.bytes, encoding: encoded.encoding }
    : { bundle: json ?? JSON.stringify(bundle), bundle_encoded: null, encoding: null };
}

/** A row's bundle, from whichever column holds it. The bundle is a little larger than the payload the size limit counts. */
function bundleOf(row: { bundle: string; bundle_encoded: Buffer | null; encoding: string | null }): PolicyBundle {
  return PolicyBundleSchema.parse(JSON.parse(storedText(row.bundle, row.bundle_encoded, row.encoding, POLICY_LIMITS.bundleBytes + 1024)));
}

/** A fleet record stored compressed keeps no document of its own: it is the bundle's policy. */
function documentOf(row: { document: string }, bundle: () => PolicyBundle) {
  return row.document === '' ? bundle().payload.policy : PolicyDocumentSchema.parse(JSON.parse(row.document));
}

async function insertPolicy(trx: StoreTrx, record: PolicyRecord): Promise<void> {
  await trx
    .insertInto('policies')
    .values({
      version: record.version,
      ...bundleColumns(record.bundle, record.json?.bundle, record.encoded),
      document: record.encoded ? '' : (record.json?.document ?? JSON.stringify(record.document)),
      published_by: record.publishedBy,
      published_at: record.publishedAt,
    })
    .execute();
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
