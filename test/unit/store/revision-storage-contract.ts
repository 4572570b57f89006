import { expect, it } from 'vitest';
import type { ConsoleStore } from '../../../src/console/store/store.js';
import { addRule, removeRule } from '../../../src/shared/policies/edits.js';
import type { PolicyContent, PolicyRevision, RuleRecord } from '../../../src/shared/policies/model.js';
import { recordKey } from '../../../src/shared/policies/rule-keys.js';
import { hashRecord } from '../../helpers/policy-model.js';
import type { OpenedStore } from './contract.js';

/**
 * How named-policy revisions are stored (store/sql/revision-storage.ts), run by policyPlaneContract
 * for every adapter: a small change to a big policy is stored as runs of its anchor (the last whole
 * revision) and reads back as the content written, in this process and in one that holds nothing.
 */
type Open = () => Promise<OpenedStore>;

const RULES = 2_000;
const POLICY = 'big';
const at = '2026-12-05T08:00:00.000Z';
const big = (count = RULES): PolicyContent => ({ settings: { aup: { variant: 'staff' } }, rules: Array.from({ length: count }, (_, i) => hashRecord(i + 1)) });
const added = (n: number): RuleRecord => ({ ...hashRecord(100_000 + n), origin: 'console', author: 'sm' });
const changed = (record: RuleRecord): RuleRecord => ({ ...record, rule: { ...record.rule, action: 'block' }, reason: 'changed' });

/** Stores `contents` as revisions 1.. of one policy, each change made as the console makes it. */
async function write(store: ConsoleStore, contents: PolicyContent[], from = 1): Promise<void> {
  for (const [i, content] of contents.entries()) {
    const revision: PolicyRevision = { policy: POLICY, revision: from + i, author: 'sm', at, change: from + i === 1 ? 'create' : 'rule-add', content };
    await store.applyPolicyChange({ revisions: [{ displayName: 'Big', revision }], audit: [] });
  }
}

/** Each revision's row as stored: its anchor (null when whole) and the length of its content text. */
async function storedRows(opened: OpenedStore): Promise<{ revision: number; base: number | null; length: number }[]> {
  const { db, close } = await opened.tables();
  try {
    const rows = await db
      .selectFrom('policy_revisions')
      .select(['revision', 'base_revision', 'content'])
      .where('policy', '=', POLICY)
      .orderBy('revision')
      .execute();
    return rows.map((r) => ({ revision: Number(r.revision), base: r.base_revision === null ? null : Number(r.base_revision), length: r.content.length }));
  } finally {
    await close();
  }
}

/** Every revision read by a store that holds none of them parsed, in an order that starts with a runs row. */
async function expectReadBack(opened: OpenedStore, contents: PolicyContent[]): Promise<void> {
  const fresh = await opened.reopen();
  try {
    const order = contents.map((_, i) => i + 1).reverse();
    for (const revision of order) expect((await fresh.getPolicyRevision(POLICY, revision))!.content).toEqual(contents[revision - 1]);
    expect((await fresh.getNamedPolicy(POLICY))!.content).toEqual(contents.at(-1));
  } finally {
    await fresh.close();
  }
  // The current revision first, through the list, with its anchor not read yet either.
  const listing = await opened.reopen();
  expect((await listing.listNamedPolicies()).map((p) => [p.revision, p.content])).toEqual([[contents.length, contents.at(-1)]]);
  await listing.close();
}

export function revisionStorageContract(open: Open): void {
  it('policy plane: small changes to a big policy are stored as runs of the first revision, and read back as written here and by a store holding nothing', async () => {
    const opened = await open();
    const { store } = opened;
    const contents: PolicyContent[] = [big()];
    const next = (make: (content: PolicyContent) => PolicyContent) => contents.push(make(contents.at(-1)!));
    next((c) => addRule(c, added(1)).content); // one rule added at the end
    next((c) => addRule(c, changed(c.rules[RULES / 2]!), { replace: true }).content); // one changed in the middle
    next((c) => removeRule(c, recordKey(c.rules[3]!)).content); // one removed near the start
    next((c) => {
      // Several at once, and a setting.
      let content = removeRule(c, recordKey(c.rules[700]!)).content;
      content = addRule(content, changed(content.rules[10]!), { replace: true }).content;
      content = addRule(addRule(content, added(2)).content, added(3)).content;
      return { ...content, settings: { aup: { variant: 'pupils' } } };
    });
    await write(store, contents);
    for (const [i, content] of contents.entries()) expect((await store.getPolicyRevision(POLICY, i + 1))!.content).toEqual(content);

    const rows = await storedRows(opened);
    expect(rows.map((r) => [r.revision, r.base])).toEqual([[1, null], ...contents.slice(1).map((_, i) => [i + 2, 1])]);
    expect(rows[0]!.length).toBeGreaterThan(200_000);
    for (const row of rows.slice(1)) expect(row.length).toBeLessThan(2_000);
    await expectReadBack(opened, contents);

    // A store that read the policy (its anchor parsed from the row) stores its own small change as runs too.
    const other = await opened.reopen();
    contents.push(removeRule((await other.getNamedPolicy(POLICY))!.content, recordKey(contents.at(-1)!.rules[5]!)).content);
    await write(other, contents.slice(-1), contents.length);
    await other.close();
    expect((await storedRows(opened)).at(-1)).toMatchObject({ revision: contents.length, base: 1 });
    await expectReadBack(opened, contents);
    await store.close();
  });

  it('policy plane: a revision whose anchor this store does not hold is stored whole, and is the anchor of the changes after it', async () => {
    const opened = await open();
    const contents: PolicyContent[] = [big()];
    contents.push(addRule(contents[0]!, added(1)).content);
    await write(opened.store, contents);
    // Another store (a restart, another process) that has read nothing: it does not read 20 MB to save writing it.
    const other = await opened.reopen();
    contents.push(addRule(contents[1]!, added(2)).content);
    contents.push(addRule(contents[2]!, added(3)).content);
    await write(other, contents.slice(2), 3);
    await other.close();
    expect((await storedRows(opened)).map((r) => [r.revision, r.base])).toEqual([
      [1, null],
      [2, 1],
      [3, null],
      [4, 3],
    ]);
    await expectReadBack(opened, contents);
    await opened.store.close();
  });

  it('policy plane: a big change, and any change to a small policy, is stored whole', async () => {
    const opened = await open();
    const contents: PolicyContent[] = [big()];
    // Every record another object (an imported file): nothing to match.
    contents.push({ ...contents[0]!, rules: contents[0]!.rules.map((r) => ({ ...r })) });
    // Every other record of the first 1,200 changed: more runs and records than a runs row may hold.
    contents.push({ ...contents[1]!, rules: contents[1]!.rules.map((r, i) => (i < 1_200 && i % 2 === 0 ? changed(r) : r)) });
    // Then a small change again: runs of the last whole revision.
    contents.push(addRule(contents[2]!, added(1)).content);
    await write(opened.store, contents);
    expect((await storedRows(opened)).map((r) => [r.revision, r.base])).toEqual([
      [1, null],
      [2, null],
      [3, null],
      [4, 3],
    ]);
    await expectReadBack(opened, contents);
    await opened.store.close();

    const small = await open();
    const few = [big(998)];
    few.push(addRule(few[0]!, added(1)).content);
    await write(small.store, few);
    expect((await storedRows(small)).map((r) => r.base)).toEqual([null, null]);
    await small.store.close();
  });

  it('policy plane: a large whole revision is stored compressed, and it and the runs against it read back as written', async () => {
    const opened = await open();
    // About 3 MB of JSON: over what is stored as text, and more rules than are serialised in one
    // turn (its JSON is made in parts and compressed as they are).
    const contents: PolicyContent[] = [big(12_000)];
    contents.push(addRule(contents[0]!, added(1)).content);
    await write(opened.store, contents);
    const { db, close } = await opened.tables();
    const rows = await db
      .selectFrom('policy_revisions')
      .select(['revision', 'base_revision', 'content', 'content_encoded', 'encoding'])
      .where('policy', '=', POLICY)
      .orderBy('revision')
      .execute();
    await close();
    const json = JSON.stringify(contents[0]).length;
    expect(rows[0]).toMatchObject({ content: '', encoding: 'br' });
    expect(rows[0]!.content_encoded!.length).toBeLessThan(json / 2);
    // The small change after it is runs against it, as text.
    expect(rows[1]).toMatchObject({ base_revision: 1, content_encoded: null, encoding: null });
    expect(rows[1]!.content.length).toBeLessThan(2_000);
    await expectReadBack(opened, contents);
    await opened.store.close();
  });

  it('policy plane: a corrupt runs row is refused on read with what is wrong with it, never read as another policy', async () => {
    const opened = await open();
    const contents = [big()];
    contents.push(addRule(contents[0]!, added(1)).content);
    await write(opened.store, contents);
    const literal = JSON.stringify({ ...hashRecord(1), rule: { kind: 'sha256', sha256: 'not hex', action: 'allow' } });
    const cases: [rules: string, base: number, error: RegExp][] = [
      [`[[0,${RULES + 1}]]`, 1, /rules\.0: run \[0, 2001\] is outside the anchor's 2000 rules/],
      [`[[0,10],${literal}]`, 1, /rules\.1\.rule\.sha256/],
      [`[[0,10],[5,6]]`, 1, /rules\.10: rule sha256:\S+ is already rule 5/],
      [`[[5,2]]`, 1, /rules\.0: a run \[from, to\] ends after it starts/],
      [`[[0,10]]`, 7, /there is no revision 7/],
    ];
    for (const [rules, base, error] of cases) {
      const { db, close } = await opened.tables();
      await db
        .updateTable('policy_revisions')
        .set({ content: `{"settings":{},"rules":${rules}}`, base_revision: base })
        .where('policy', '=', POLICY)
        .where('revision', '=', 2)
        .execute();
      await close();
      const fresh = await opened.reopen();
      const corrupt = new RegExp(`policy ${POLICY} revision 2, stored as runs against revision ${base}, is corrupt: ${error.source}`);
      await expect(fresh.getPolicyRevision(POLICY, 2)).rejects.toThrow(corrupt);
      await expect(fresh.getNamedPolicy(POLICY)).rejects.toThrow(corrupt);
      await fresh.close();
    }
    await opened.store.close();
  });
}
