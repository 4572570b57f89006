import { Kysely, PostgresDialect, sql, type CompiledQuery } from 'kysely';
import pg from 'pg';
import { InvalidError } from '../errors.js';
import type { ConsoleStore } from './store.js';
import { CONSOLE_MIGRATIONS } from './migrations/index.js';
import { migratePostgres } from './postgres/migrate.js';
import { composeDomains } from './sql/domains.js';
import { checkJsonPath, type Engine, type StoreDb } from './sql/engine.js';
import type { ConsoleTables } from './sql/schema.js';

/** The shared store of several console processes: the same Kysely domains (store/sql/) over PostgreSQL. */
export interface PostgresStore extends ConsoleStore {
  readonly kind: 'postgres';
}

export interface PostgresDatabase {
  db: StoreDb;
  engine: Engine;
  close(): Promise<void>;
}

/**
 * Connections per console process (with the health check's and the periodic-work lock's, 22):
 * PostgreSQL's default of 100 in all holds four processes; more need `max_connections` raised
 * (docs/scaling.md). A failover's reconnect storm is thousands of short round trips while the
 * server has time to spare: 10 kept too few of them in flight.
 */
const DEFAULT_POOL_SIZE = 20;
/**
 * Of those, the ones that write what a device is told about (events before their ack), with
 * `synchronous_commit` on for the whole session: a durable write needs no `SET LOCAL` round trip,
 * and a single statement is its own durable transaction. The event writer keeps at most two
 * batches in flight (event-writer.ts), so two connections serve it.
 */
const DURABLE_POOL_SIZE = 2;

/** Text sorts and compares byte by byte, as SQLite's does (times are ISO strings, compared as text). */
const BYTEWISE_COLLATIONS = new Set(['C', 'POSIX', 'C.UTF-8', 'C.utf8']);

/** Opens the console's PostgreSQL database at `url` (postgres://…), migrated to this build's schema. */
export async function openPostgresStore(url: string, options: { poolSize?: number } = {}): Promise<PostgresStore> {
  const { db, engine, close } = await openPostgresDatabase(url, options);
  // /healthz asks whether the database answers, not how long this process's queue of queries is:
  // a storm of reconnecting agents fills the pool for seconds, and a balancer that read that as
  // "down" took every survivor of a failover out of rotation, refusing the agents it should take.
  const health = newPool(url, 1, 'off');
  const ping = async () => void (await health.query('SELECT 1'));
  return composeDomains<PostgresStore>({ kind: 'postgres' as const, ping, close: async () => void (await Promise.all([close(), health.end()])) }, db, engine);
}

/** The Kysely handle over a migrated console database (the store, and `vigil console migrate`). */
export async function openPostgresDatabase(url: string, options: { poolSize?: number } = {}): Promise<PostgresDatabase> {
  const size = options.poolSize ?? DEFAULT_POOL_SIZE;
  const durableSize = Math.min(DURABLE_POOL_SIZE, Math.max(1, size - 1));
  // As SQLite's synchronous=NORMAL: a commit is safe from a console crash without waiting for the
  // disk (heartbeats, presence, status); the writes a device is told about go through the durable
  // pool, whose commits wait for it.
  const pool = newPool(url, Math.max(1, size - durableSize), 'off');
  const durablePool = newPool(url, durableSize, 'on');
  try {
    const client = await pool.connect();
    try {
      await checkCollation(client, describeDatabase(url));
      await migratePostgres(client, describeDatabase(url), CONSOLE_MIGRATIONS);
    } finally {
      client.release();
    }
  } catch (error) {
    await Promise.all([pool.end(), durablePool.end()]);
    throw error;
  }
  const db = new Kysely<ConsoleTables>({ dialect: new PostgresDialect({ pool }) });
  const durable = new Kysely<ConsoleTables>({ dialect: new PostgresDialect({ pool: durablePool }) });
  return { db, engine: postgresEngine(db, durable), close: async () => void (await Promise.all([db.destroy(), durable.destroy()])) };
}

function newPool(url: string, max: number, synchronousCommit: 'on' | 'off'): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max,
    options: `-c synchronous_commit=${synchronousCommit}`,
    // Counts, versions and sequence numbers are BIGINT: JavaScript numbers, as SQLite gives them.
    types: { getTypeParser: (oid: number, format?: 'text' | 'binary') => (oid === pg.types.builtins.INT8 ? Number : pg.types.getTypeParser(oid, format)) },
  } as pg.PoolConfig);
  // An idle connection that the server drops must not take the process with it.
  pool.on('error', () => undefined);
  return pool;
}

function postgresEngine(db: StoreDb, durable: StoreDb): Engine {
  return {
    kind: 'postgres',
    // Any number of console processes share the database.
    singleWriter: false,
    jsonText(column, path) {
      checkJsonPath(path);
      return sql<string | null>`(${sql.ref(column)}::jsonb #>> ${`{${path.join(',')}}`}::text[])`;
    },
    // On the durable pool: commit waits for the WAL flush, whatever the server's default (the ack
    // lets a device delete its copy).
    durableTransaction: (work) => durable.transaction().execute(work),
    // One statement outside a transaction block commits by itself: one round trip in all.
    durableStatement: <R>(query: CompiledQuery) => durable.executeQuery<R>(query),
    // Readers go on; a second allocator (another process) waits until this one commits, then sees its number.
    allocatingTransaction: (table, work) =>
      db.transaction().execute(async (trx) => {
        await sql`LOCK TABLE ${sql.table(table)} IN SHARE ROW EXCLUSIVE MODE`.execute(trx);
        return work(trx);
      }),
    isUniqueViolation: (error) => (error as { code?: unknown } | null)?.code === '23505',
  };
}

async function checkCollation(client: pg.PoolClient, database: string): Promise<void> {
  // datlocprovider is PostgreSQL 15's (ICU or libc); read through to_jsonb so older servers answer too.
  const { rows } = await client.query<{ collate: string; provider: string | null }>(
    "SELECT d.datcollate AS collate, to_jsonb(d) ->> 'datlocprovider' AS provider FROM pg_database d WHERE d.datname = current_database()",
  );
  const row = rows[0];
  const icu = row?.provider === 'i';
  if (!row || icu || !BYTEWISE_COLLATIONS.has(row.collate)) {
    throw new InvalidError(
      'database-collation',
      `${database} sorts text by ${icu ? 'an ICU locale' : `the locale ${row?.collate ?? '?'}`}; Vigil compares times as text and needs byte order: ` +
        `create it with CREATE DATABASE … TEMPLATE template0 LOCALE 'C' (or createdb --locale=C --template=template0)`,
    );
  }
}

/** The URL without its password, for messages and logs. */
export function describeDatabase(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.password = '';
    return parsed.toString();
  } catch {
    return 'the PostgreSQL database';
  }
}
