import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresUnavailable, startPostgresCluster, type PostgresCluster } from '../../../bench/postgres-cluster.js';
import { InvalidError } from '../../../src/console/errors.js';
import { CompiledQuery, sql } from 'kysely';
import { openPostgresDatabase, openPostgresStore } from '../../../src/console/store/postgres-store.js';
import { skipReason } from '../../helpers/requirements.js';
import { storeContract } from './contract.js';

const unavailable = skipReason('postgres store', postgresUnavailable());
let cluster: PostgresCluster;

describe.skipIf(unavailable)('PostgreSQL store', () => {
  beforeAll(async () => {
    cluster = await startPostgresCluster();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  storeContract('PostgreSQL', {
    sharedByProcesses: true,
    async open() {
      const url = await cluster.createDatabase();
      return { store: await openPostgresStore(url), reopen: () => openPostgresStore(url), tables: () => openPostgresDatabase(url, { poolSize: 1 }) };
    },
  });

  it('applies each migration once when several processes start together, and records them as SQLite does', async () => {
    const url = await cluster.createDatabase();
    const stores = await Promise.all([openPostgresStore(url), openPostgresStore(url), openPostgresStore(url)]);
    const pg = await import('pg');
    const client = new pg.default.Client({ connectionString: url });
    await client.connect();
    const { rows } = await client.query<{ version: number; name: string }>('SELECT version, name FROM schema_version ORDER BY version');
    await client.end();
    expect(rows.map((r) => `${r.version}:${r.name}`)).toEqual([
      '1:initial',
      '2:aups',
      '3:app-requests',
      '4:stations-and-history',
      '5:concerns',
      '6:policy-plane',
      '7:sign-in',
      '8:policy-sets',
      '9:reserved',
      '10:presence-lease',
      '11:compressed-bundles',
      '12:revision-runs',
      '13:compressed-revisions',
    ]);
    await Promise.all(stores.map((s) => s.close()));
  });

  it('commits durable writes (events before their ack) with synchronous_commit on, and the rest with it off', async () => {
    const { db, engine, close } = await openPostgresDatabase(await cluster.createDatabase());
    const setting = 'SELECT current_setting($1) AS value';
    const durableStatement = await engine.durableStatement<{ value: string }>(CompiledQuery.raw(setting, ['synchronous_commit']));
    const durableTransaction = await engine.durableTransaction((trx) =>
      trx.executeQuery<{ value: string }>(CompiledQuery.raw(setting, ['synchronous_commit'])),
    );
    const other = await sql<{ value: string }>`SELECT current_setting('synchronous_commit') AS value`.execute(db);
    expect([durableStatement.rows[0]?.value, durableTransaction.rows[0]?.value, other.rows[0]?.value]).toEqual(['on', 'on', 'off']);
    await close();
  });

  it('refuses a database that sorts text by locale, saying how to create one', async () => {
    const pg = await import('pg');
    const admin = new pg.default.Client({ connectionString: cluster.url('postgres') });
    await admin.connect();
    // C.UTF-8 sorts by code point, as C does: accepted. An ICU locale sorts "T" and ":" by language rules: refused.
    await admin.query(`CREATE DATABASE vigil_cutf8 TEMPLATE template0 LOCALE 'C.UTF-8'`);
    await admin.query(`CREATE DATABASE vigil_icu TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-GB' LOCALE 'C.UTF-8'`);
    await admin.end();
    await (await openPostgresStore(cluster.url('vigil_cutf8'))).close();
    await expect(openPostgresStore(cluster.url('vigil_icu'))).rejects.toThrow(/ICU locale.*LOCALE 'C'/);
    await expect(openPostgresStore(cluster.url('vigil_icu'))).rejects.toBeInstanceOf(InvalidError);
  });
});
