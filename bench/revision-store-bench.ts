import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { openPostgresStore } from '../src/console/store/postgres-store.js';
import { openSqliteStore } from '../src/console/store/sqlite-store.js';
import type { ConsoleStore } from '../src/console/store/store.js';
import { addRule } from '../src/shared/policies/edits.js';
import type { PolicyContent } from '../src/shared/policies/model.js';
import { hashRecords } from './rule-records.js';
import { benchArgs, round } from './args.js';
import { startPostgresCluster } from './postgres-cluster.js';

/**
 * `npm run bench:revisions [-- --rules 100000 --rounds 5 --postgres 1]`: what storing a one-rule
 * change to a big named policy costs the console (store/sql/revision-storage.ts). Each round adds
 * one rule three times: twice through the store that wrote the policy, which holds its anchor (stored as
 * runs; the first change against an anchor also indexes its records), and through a store that
 * holds nothing (stored whole, as every revision was before runs).
 * Wall milliseconds of applyPolicyChange (on SQLite the console's own thread), medians; then one
 * read of each form by a store that holds nothing. Last line one JSON object.
 */
const args = benchArgs({ rules: { default: '100000' }, rounds: { default: '5' }, postgres: { default: '0' } });
const rules = Number(args.rules);
const rounds = Number(args.rounds);

const record = hashRecords(rules + 3 * rounds, 'console', '2026-12-05T00:00:00.000Z');

const dir = mkdtempSync(join('/dev/shm', 'vigil-revision-bench-'));
const cluster = args.postgres === '1' ? await startPostgresCluster() : null;
const url = cluster ? await cluster.createDatabase() : null;
const open = async (): Promise<ConsoleStore> => (url ? openPostgresStore(url) : openSqliteStore(join(dir, 'console.db')));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

let revision = 0;
let content: PolicyContent = { settings: {}, rules: Array.from({ length: rules }, (_, i) => record(i)) };
let added = rules;
/** Stores the next revision (one rule more) through `store`; answers its milliseconds. */
async function addOne(store: ConsoleStore): Promise<number> {
  content = addRule(content, record(added++)).content;
  revision++;
  const start = performance.now();
  await store.applyPolicyChange({
    revisions: [{ displayName: 'Bench', revision: { policy: 'bench', revision, author: 'bench', at: new Date().toISOString(), change: 'rule-add', content } }],
    audit: [],
  });
  return performance.now() - start;
}

const writer = await open();
try {
  revision = 1;
  const start = performance.now();
  await writer.applyPolicyChange({
    revisions: [{ displayName: 'Bench', revision: { policy: 'bench', revision, author: 'bench', at: new Date().toISOString(), change: 'create', content } }],
    audit: [],
  });
  const createMs = performance.now() - start;
  const firstRunsMs: number[] = [];
  const runsMs: number[] = [];
  const wholeMs: number[] = [];
  for (let r = 0; r < rounds; r++) {
    // Whole first: that revision is the anchor of the runs one after it, as after a restart.
    const stranger = await open();
    wholeMs.push(await addOne(stranger));
    await stranger.close();
    // The writer did not write that revision, so it reads it first, as the console does before a change.
    content = (await writer.getNamedPolicy('bench'))!.content;
    // The first change against a new anchor indexes its records; the ones after it find them indexed.
    firstRunsMs.push(await addOne(writer));
    runsMs.push(await addOne(writer));
  }
  /** Milliseconds a store that holds nothing (a restart, another process) takes to read one revision. */
  const readFresh = async (which: number) => {
    const reader = await open();
    const start = performance.now();
    const read = (await reader.getPolicyRevision('bench', which))!;
    const ms = performance.now() - start;
    await reader.close();
    if (read.content.rules.length !== rules + which - 1) throw new Error(`revision ${which} read back with another number of rules`);
    return ms;
  };
  const readWholeMs = await readFresh(revision - 1);
  const readRunsMs = await readFresh(revision);
  const result = {
    engine: url ? 'postgres' : 'sqlite',
    rules,
    rounds,
    createMs: round(createMs, 1),
    oneRuleWholeMs: round(median(wholeMs), 1),
    oneRuleRunsNewAnchorMs: round(median(firstRunsMs), 1),
    oneRuleRunsMs: round(median(runsMs), 1),
    wholeMsEach: wholeMs.map((ms) => round(ms, 1)),
    runsNewAnchorMsEach: firstRunsMs.map((ms) => round(ms, 1)),
    runsMsEach: runsMs.map((ms) => round(ms, 1)),
    readWholeFreshMs: round(readWholeMs, 1),
    readRunsFreshMs: round(readRunsMs, 1),
  };
  console.log(
    `one-rule change to ${rules} rules (median of ${rounds}): stored whole ${result.oneRuleWholeMs} ms, as runs ${result.oneRuleRunsMs} ms (${result.oneRuleRunsNewAnchorMs} ms the first against a new anchor)`,
  );
  console.log(JSON.stringify(result));
} finally {
  await writer.close();
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
}
