import { PolicyContentSchema, type PolicyContent, type PolicyRevision } from '../../../shared/policies/model.js';
import { RevisionRunsError, decodeRevisionRuns, encodeRevisionRuns } from '../../../shared/policies/revision-runs.js';
import type { BundleEncoding } from '../../../shared/policies/delivery.js';
import { compressAsync, DEFAULT_ENCODING } from '../../../shared/node/policy-bundle-codec.js';
import { nullableNumber, type StoreDb, type StoreTrx } from './engine.js';
import type { RevisionContents } from './revision-contents.js';
import { storedText } from './stored-text.js';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { joinBytes, totalLength } from '../../../shared/node/bytes.js';

/**
 * How a revision's content is stored (policy_revisions.content and base_revision): whole, or as
 * runs against an anchor, the last whole revision of the same policy (shared/policies/revision-runs.ts).
 * Storing a 100,000-rule content whole (21 MB) took 0.1–0.5 s of the console's one thread on every
 * one-rule change (bench:revisions, and a profile of the rollout); as runs it is a few hundred bytes. An anchor is always whole, so a read is at
 * most the anchor and one runs row, never a chain.
 */

/**
 * Most runs and literal records a revision stored as runs may have. A one-rule change takes one
 * to three; a change past this (a file import, a group renamed throughout) is stored whole and
 * becomes the anchor of the changes after it, which keeps every runs row small (a literal is
 * about 200 bytes) and cheap to read next to its anchor.
 */
const MAX_RUN_ITEMS = 1_000;

/** Below this many rules a revision is stored whole: that is cheap (a few hundred KB), and whole rows are the simpler form. */
const RUNS_FROM_RULES = 1_000;

/**
 * A whole content whose JSON is at least this long is stored compressed (migration 13), on
 * libuv's pool before it is written: 23 MB of text written inside the change's transaction held
 * a SQLite console's thread for 0.5–0.8 s.
 */
const COMPRESS_FROM_CHARS = 1_000_000;

/** A revision's stored form, as its row holds it (a compressed row's content inflated). */
export interface StoredContent {
  content: string;
  /** The anchor `content` is runs against; null when `content` is the whole content. */
  base_revision: number | null;
}

/** The columns a revision's content is written to. */
export interface ContentColumns extends StoredContent {
  content_encoded: Buffer | null;
  encoding: BundleEncoding | null;
}

/**
 * The stored form of a revision about to be written (inside its change's transaction): runs
 * against the previous revision's anchor when this process holds that anchor's content, else
 * whole. A missing anchor is never read to save the write: reading 20 MB costs more than writing it.
 */
export async function storedForm(trx: StoreTrx, contents: RevisionContents, revision: PolicyRevision): Promise<ContentColumns> {
  const whole = async () => wholeColumns(await contentJson(revision.content));
  if (revision.revision === 1 || revision.content.rules.length < RUNS_FROM_RULES) return whole();
  const anchor = await anchorOf(trx, revision.policy, revision.revision - 1);
  const anchorContent = contents.get(revision.policy, anchor);
  const runs = anchorContent && encodeRevisionRuns(anchorContent, revision.content, MAX_RUN_ITEMS);
  return runs ? { content: JSON.stringify(runs), base_revision: anchor, content_encoded: null, encoding: null } : whole();
}

/** Rules serialised in one turn of the event loop when a whole content is written: 10,000 are about 25 ms here. */
const RULES_PER_TURN = 10_000;

/**
 * A content's JSON; a large one as UTF-8 in parts, its rules serialised RULES_PER_TURN at a time
 * with a turn of the event loop between (23 MB of JSON in one go held the console for 0.3 s), and
 * compressed as they are, not joined first. The members' order differs from JSON.stringify's,
 * which no reader depends on: the text is parsed.
 */
async function contentJson(content: PolicyContent): Promise<string | Buffer[]> {
  if (content.rules.length <= RULES_PER_TURN) return JSON.stringify(content);
  const { rules, ...rest } = content;
  const chunks: Buffer[] = [Buffer.from('{"rules":[')];
  for (let at = 0; at < rules.length; at += RULES_PER_TURN) {
    const text = JSON.stringify(rules.slice(at, at + RULES_PER_TURN));
    chunks.push(Buffer.from(`${at > 0 ? ',' : ''}${text.slice(1, -1)}`));
    await nextTurn();
  }
  const others = JSON.stringify(rest);
  chunks.push(Buffer.from(others === '{}' ? ']}' : `],${others.slice(1)}`));
  return chunks;
}

async function wholeColumns(json: string | Buffer[]): Promise<ContentColumns> {
  if ((typeof json === 'string' ? json.length : totalLength(json)) < COMPRESS_FROM_CHARS)
    return { content: typeof json === 'string' ? json : joinBytes(json).toString('utf8'), base_revision: null, content_encoded: null, encoding: null };
  const encoded = await compressAsync(json, DEFAULT_ENCODING);
  return { content: '', base_revision: null, content_encoded: encoded.bytes, encoding: encoded.encoding };
}

/** The revision a stored one's content is runs against, or itself when it is whole. */
async function anchorOf(trx: StoreTrx, policy: string, revision: number): Promise<number> {
  const row = await trx
    .selectFrom('policy_revisions')
    .select('base_revision')
    .where('policy', '=', policy)
    .where('revision', '=', revision)
    .executeTakeFirstOrThrow();
  return nullableNumber(row.base_revision) ?? revision;
}

export async function readStoredForm(db: StoreDb, policy: string, revision: number): Promise<StoredContent | undefined> {
  const row = await db
    .selectFrom('policy_revisions')
    .select(['content', 'base_revision', 'content_encoded', 'encoding'])
    .where('policy', '=', policy)
    .where('revision', '=', revision)
    .executeTakeFirst();
  return row && storedFormOf(row);
}

/** A row's stored form (PostgreSQL may hand integers over as text); a compressed one inflated. */
export const storedFormOf = (row: {
  content: string;
  base_revision: number | string | null;
  content_encoded: Buffer | null;
  encoding: string | null;
}): StoredContent => ({
  content: storedText(row.content, row.content_encoded, row.encoding, MAX_INFLATED_BYTES),
  base_revision: nullableNumber(row.base_revision),
});

/** Far above any revision the policy limits allow (a 100,000-rule one is about 23 MB). */
const MAX_INFLATED_BYTES = 512 * 1024 * 1024;

/** A stored revision's content: the kept one, or parsed (and kept), assembled from its anchor when stored as runs. */
export async function contentOf(db: StoreDb, contents: RevisionContents, policy: string, revision: number, stored: StoredContent): Promise<PolicyContent> {
  const kept = contents.get(policy, revision);
  if (kept) return kept;
  const content = stored.base_revision === null ? parseWhole(stored.content) : await assemble(db, contents, policy, revision, stored);
  contents.keep(policy, revision, content);
  return content;
}

const parseWhole = (text: string): PolicyContent => PolicyContentSchema.parse(JSON.parse(text));

async function assemble(db: StoreDb, contents: RevisionContents, policy: string, revision: number, stored: StoredContent): Promise<PolicyContent> {
  const anchor = stored.base_revision!;
  const corrupt = (why: string) =>
    new RevisionRunsError(`policy ${policy} revision ${revision}, stored as runs against revision ${anchor}, is corrupt: ${why}`);
  let anchorContent = contents.get(policy, anchor);
  if (!anchorContent) {
    const anchorStored = await readStoredForm(db, policy, anchor);
    if (!anchorStored) throw corrupt(`there is no revision ${anchor}`);
    if (anchorStored.base_revision !== null) throw corrupt(`revision ${anchor} is not stored whole`);
    anchorContent = parseWhole(anchorStored.content);
    contents.keep(policy, anchor, anchorContent);
  }
  try {
    return decodeRevisionRuns(anchorContent, JSON.parse(stored.content));
  } catch (error) {
    throw corrupt(error instanceof Error ? error.message : String(error));
  }
}
