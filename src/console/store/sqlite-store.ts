import type Database from 'better-sqlite3';
import { Kysely, SqliteDialect, sql, type CompiledQuery, type SqliteDatabase } from 'kysely';
import type { ConsoleStore } from './store.js';
import { composeDomains } from './sql/domains.js';
import { checkJsonPath, type Engine, type StoreDb } from './sql/engine.js';
import type { ConsoleTables } from './sql/schema.js';
import { isUniqueViolation, openConsoleDatabase } from './sqlite/database.js';
import { startCheckpointer } from './sqlite/checkpointer.js';
import { createLogger } from '../../shared/node/log.js';

/** The embedded store: the shared Kysely domains (store/sql/) over one SQLite file. */
export interface SqliteStore extends ConsoleStore {
  readonly kind: 'sqlite';
  /** For the contract test that the file is in WAL mode. */
  journalMode(): string;
  /** Copies the write-ahead log into the database file now (sqlite/checkpointer.ts; tests). */
  checkpointNow(): Promise<{ log: number; checkpointed: number }>;
}

/** Opens (creating and migrating as needed) the console database in `file`. */
export function openSqliteStore(file: string, options: { checkpointEveryMs?: number } = {}): SqliteStore {
  const raw = openConsoleDatabase(file);
  const db = new Kysely<ConsoleTables>({ dialect: new SqliteDialect({ database: withStatementCache(raw) }) });
  const checkpointer = startCheckpointer(raw, file, { everyMs: options.checkpointEveryMs, log: createLogger('store') });
  const own = {
    kind: 'sqlite' as const,
    journalMode: () => raw.pragma('journal_mode', { simple: true }) as string,
    checkpointNow: () => checkpointer.now(),
    ping: async () => void (await sql`SELECT 1`.execute(db)),
    close: async () => {
      await checkpointer.stop();
      await db.destroy();
    },
  };
  try {
    return composeDomains<SqliteStore>(own, db, sqliteEngine(db));
  } catch (error) {
    void checkpointer.stop();
    raw.close();
    throw error;
  }
}

function sqliteEngine(db: StoreDb): Engine {
  const engine: Engine = {
    kind: 'sqlite',
    // One process owns the file (the console's data directory).
    singleWriter: true,
    jsonText(column, path) {
      checkJsonPath(path);
      return sql<string | null>`json_extract(${sql.ref(column)}, ${`$.${path.join('.')}`})`;
    },
    // NORMAL is durable against process crashes in WAL mode; FULL also against power cuts, for the
    // writes a device is told about. Set on the one connection, held for the whole transaction.
    durableTransaction: (work) =>
      db.connection().execute(async (conn) => {
        await sql`PRAGMA synchronous = FULL`.execute(conn);
        try {
          return await conn.transaction().execute(work);
        } finally {
          await sql`PRAGMA synchronous = NORMAL`.execute(conn);
        }
      }),
    durableStatement: <R>(query: CompiledQuery) => engine.durableTransaction((trx) => trx.executeQuery<R>(query)),
    // One connection, one process: a transaction is already alone.
    allocatingTransaction: (_table, work) => db.transaction().execute(work),
    isUniqueViolation,
  };
  return engine;
}

/** Statements kept prepared: enough for every query shape the domains use, with room for IN-list lengths. */
const PREPARED_STATEMENTS = 512;

/**
 * Kysely prepares each query it runs; preparing costs more than running most of ours. The same SQL
 * text gets the same prepared statement back (least recently used ones are dropped), as the
 * hand-written adapter kept its statements. Safe because Kysely runs one query at a time on this
 * connection and never leaves a statement iterating.
 */
function withStatementCache(raw: Database.Database): SqliteDatabase {
  const cache = new Map<string, Database.Statement>();
  return {
    close: () => void raw.close(),
    prepare(text: string) {
      let statement = cache.get(text);
      if (statement) cache.delete(text);
      else statement = raw.prepare(text);
      cache.set(text, statement);
      if (cache.size > PREPARED_STATEMENTS) cache.delete(cache.keys().next().value!);
      return statement;
    },
  };
}
