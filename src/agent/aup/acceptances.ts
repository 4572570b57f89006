import Database from 'better-sqlite3';
import { AupReceiptSchema, type AupReceipt } from '../../shared/aup.js';
import { parseOrNull } from '../../shared/json-or-null.js';
import { migrate, type Migration } from '../../shared/node/migrations.js';

/** The acceptances schema. Step 1 is written IF NOT EXISTS: files from before versioning already hold it. */
export const ACCEPTANCE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'acceptances',
    up: `CREATE TABLE IF NOT EXISTS acceptances (
      user TEXT NOT NULL, aup_hash TEXT NOT NULL, variant TEXT NOT NULL, version INTEGER NOT NULL,
      source TEXT NOT NULL CHECK (source IN ('here', 'elsewhere')), accepted_at TEXT, receipt TEXT,
      recorded_at INTEGER NOT NULL, PRIMARY KEY (user, aup_hash))`,
  },
];

/** How a user's acceptance of one AUP text is known on this device. */
export type KnownAcceptance = { source: 'here'; receipt: AupReceipt } | { source: 'elsewhere'; acceptedAt: string | null };

/** Enough for a busy lab (every pupil of a school, a few versions each); the oldest go first. */
export const DEFAULT_MAX_ACCEPTANCES = 20_000;

/**
 * What this device knows about acceptances, per user and AUP text (by hash): receipts signed
 * here, and "accepted on another device" answers from the console, so a pupil is not asked
 * again after a restart or while the console is out of reach. SQLite, because an administrator's
 * `vigil agent aup accept` writes from another process while the service runs. Bounded: past
 * `maxRows` the oldest records are dropped (they are also at the console).
 */
export class AcceptanceRecords {
  private readonly db: Database.Database;

  constructor(
    file: string,
    private readonly maxRows = DEFAULT_MAX_ACCEPTANCES,
  ) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('busy_timeout = 5000');
    migrate(this.db, file, ACCEPTANCE_MIGRATIONS);
  }

  /** A receipt signed here; it replaces an "elsewhere" record for the same text. */
  addReceipt(receipt: AupReceipt): void {
    const p = receipt.payload;
    this.write(
      `INSERT INTO acceptances (user, aup_hash, variant, version, source, accepted_at, receipt, recorded_at)
       VALUES (?, ?, ?, ?, 'here', ?, ?, ?)
       ON CONFLICT (user, aup_hash) DO UPDATE SET source = 'here', accepted_at = excluded.accepted_at,
         receipt = excluded.receipt, recorded_at = excluded.recorded_at`,
      [p.user, p.aupHash, p.variant, p.version, p.acceptedAt, JSON.stringify(receipt), Date.now()],
    );
  }

  /** The console said the user accepted this text on another device. Never overrides a receipt. */
  addElsewhere(user: string, aup: { variant: string; version: number; hash: string }, acceptedAt: string | null): void {
    this.write(
      `INSERT INTO acceptances (user, aup_hash, variant, version, source, accepted_at, receipt, recorded_at)
       VALUES (?, ?, ?, ?, 'elsewhere', ?, NULL, ?) ON CONFLICT (user, aup_hash) DO NOTHING`,
      [user, aup.hash, aup.variant, aup.version, acceptedAt, Date.now()],
    );
  }

  get(user: string, aupHash: string): KnownAcceptance | null {
    const row = this.db.prepare('SELECT source, accepted_at, receipt FROM acceptances WHERE user = ? AND aup_hash = ?').get(user, aupHash) as
      { source: string; accepted_at: string | null; receipt: string | null } | undefined;
    if (!row) return null;
    if (row.source === 'elsewhere') return { source: 'elsewhere', acceptedAt: row.accepted_at };
    const receipt = AupReceiptSchema.safeParse(parseOrNull(row.receipt));
    return receipt.success ? { source: 'here', receipt: receipt.data } : null;
  }

  /** Whether the user accepted another text of this variant (then the current one is a "new-version"). */
  acceptedEarlier(user: string, variant: string, currentHash: string): boolean {
    return this.db.prepare('SELECT 1 FROM acceptances WHERE user = ? AND variant = ? AND aup_hash != ? LIMIT 1').get(user, variant, currentHash) !== undefined;
  }

  count(): number {
    return Number((this.db.prepare('SELECT COUNT(*) AS n FROM acceptances').get() as { n: number }).n);
  }

  close(): void {
    this.db.close();
  }

  private write(sql: string, params: unknown[]): void {
    this.db.transaction(() => {
      this.db.prepare(sql).run(...params);
      const excess = this.count() - this.maxRows;
      if (excess > 0) this.db.prepare('DELETE FROM acceptances WHERE rowid IN (SELECT rowid FROM acceptances ORDER BY recorded_at, rowid LIMIT ?)').run(excess);
    })();
  }
}
