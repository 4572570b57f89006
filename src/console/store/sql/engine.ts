import type { CompiledQuery, Kysely, QueryResult, RawBuilder, Transaction } from 'kysely';
import type { ConsoleTables } from './schema.js';

export type StoreDb = Kysely<ConsoleTables>;
export type StoreTrx = Transaction<ConsoleTables>;

/**
 * What differs between the two engines, in one place. Everything else under store/sql/ is one
 * Kysely query that runs on both, so a query is never written twice.
 */
export interface Engine {
  readonly kind: 'sqlite' | 'postgres';
  /**
   * Whether this process is the database's only writer (embedded SQLite). Only then may a domain
   * keep what it wrote in memory (the latest policy and AUPs); several console processes on one
   * PostgreSQL database always read it.
   */
  readonly singleWriter: boolean;
  /** The text at `path` inside a JSON document kept in a text column. */
  jsonText(column: string, path: readonly string[]): RawBuilder<string | null>;
  /** A transaction that is on disk when it resolves: its caller acknowledges it to a device next. */
  durableTransaction<T>(work: (trx: StoreTrx) => Promise<T>): Promise<T>;
  /** One statement, committed by itself and on disk when it resolves (a durable transaction of one statement). */
  durableStatement<R>(query: CompiledQuery): Promise<QueryResult<R>>;
  /**
   * A transaction that allocates the next number in `table` (policy and AUP versions): an allocator
   * in another process waits for this one, so two never take the same number.
   */
  allocatingTransaction<T>(table: 'policies' | 'aups', work: (trx: StoreTrx) => Promise<T>): Promise<T>;
  /** A row was refused because it repeats a unique key (told by the engine's error code, not its wording). */
  isUniqueViolation(error: unknown): boolean;
}

/** A JSON path of plain names only: it becomes part of the engine's path syntax. */
export function checkJsonPath(path: readonly string[]): void {
  for (const name of path) if (!/^[A-Za-z][A-Za-z0-9]*$/.test(name)) throw new Error(`bad JSON path element ${name}`);
}

export const nullableText = (value: unknown): string | null => (value === null || value === undefined ? null : String(value));
export const nullableNumber = (value: unknown): number | null => (value === null || value === undefined ? null : Number(value));
/** Rows changed by a write, as both drivers report it. */
export const changed = (result: { numInsertedOrUpdatedRows?: bigint; numUpdatedRows?: bigint; numDeletedRows?: bigint }): number =>
  Number(result.numInsertedOrUpdatedRows ?? result.numUpdatedRows ?? result.numDeletedRows ?? 0n);

/** `items` in runs of at most `size` (statements have a bound on their parameters). */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * How long a process of a shared database may answer "the latest policy / AUP" from memory. Every
 * agent frame asks, and a bundle is parsed each time it is read; another process's publish is
 * seen within this time (its own at once), and devices get new versions pushed or at hello anyway.
 */
export const SHARED_LATEST_MS = 1000;

/** The latest record of something, read through: kept forever by the only writer, briefly by one of several. */
export class LatestRead<T> {
  private value: { record: T; at: number } | null = null;

  constructor(private readonly engine: Engine) {}

  async get(load: () => Promise<T>): Promise<T> {
    const ttl = this.engine.singleWriter ? Infinity : SHARED_LATEST_MS;
    if (this.value && Date.now() - this.value.at < ttl) return this.value.record;
    const record = await load();
    this.value = { record, at: Date.now() };
    return record;
  }

  /** After this process wrote a newer one: the only writer knows it; one of several reads it again. */
  wrote(record: T): void {
    this.value = this.engine.singleWriter ? { record, at: Date.now() } : null;
  }
}
