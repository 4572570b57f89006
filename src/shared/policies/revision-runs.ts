import { z } from 'zod';
import { POLICY_LIMITS } from '../policy-limits.js';
import { summariseZodError } from '../zod-errors.js';
import { PolicyContentSchema, RuleRecordSchema, repeatedRuleKeys, type PolicyContent, type RuleRecord } from './model.js';

/**
 * A policy revision stored as runs against an anchor, a whole revision of the same policy
 * (browser-safe, pure). A one-rule change to a 100,000-rule policy would otherwise store all
 * 100,000 records again (about 20 MB); as runs it is a few ranges of the anchor's rules plus the
 * records the anchor does not have. The stored object is the content with its `rules` replaced by
 * that list: `[from, to]` is the anchor's rules from `from` up to (not including) `to`, and an
 * object is a rule record as it is.
 */

/** `[from, to]`: the anchor's rules from..to-1, as they are. */
export const RuleRunSchema = z
  .tuple([z.number().int().min(0), z.number().int().min(1)])
  .refine(([from, to]) => from < to, 'a run [from, to] ends after it starts');
export type RuleRun = z.infer<typeof RuleRunSchema>;
export type RuleRunItem = RuleRun | RuleRecord;
/** What is stored: the content with its rules as runs. */
export type RevisionRuns = Omit<PolicyContent, 'rules'> & { rules: RuleRunItem[] };

/**
 * A run or a literal record, told apart by being an array, so that a bad item is reported against
 * what it was meant to be (a union would only say that it is neither).
 */
const RuleRunItemSchema = z.unknown().transform((item, ctx): RuleRunItem => {
  const checked = Array.isArray(item) ? RuleRunSchema.safeParse(item) : RuleRecordSchema.safeParse(item);
  if (checked.success) return checked.data;
  for (const issue of checked.error.issues) ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
  return z.NEVER;
});

/** The stored object: the content's other fields as they are (checked by PolicyContentSchema), `rules` as runs. */
export const RevisionRunsSchema = z.looseObject({ rules: z.array(RuleRunItemSchema).max(POLICY_LIMITS.rules) });

/** A stored runs object that does not describe a valid content over its anchor. */
export class RevisionRunsError extends Error {}

/**
 * Each record's position in a rules list, made once per list: the encoder is called for every
 * change against one anchor, and indexing 100,000 records each time would cost more than the runs save.
 */
const indexes = new WeakMap<readonly RuleRecord[], Map<RuleRecord, number>>();

function indexOf(rules: readonly RuleRecord[]): Map<RuleRecord, number> {
  let index = indexes.get(rules);
  if (!index) indexes.set(rules, (index = new Map(rules.map((record, i) => [record, i]))));
  return index;
}

/**
 * `rules` as runs of `anchor`, or null when that takes more than `maxItems` items. Records are
 * matched by identity, not compared: the console builds a revision's content from the one
 * before, so a record it did not change is the very object the anchor holds (or one that was
 * built from the same stored text), and an equal record that is another object is only a literal.
 */
export function encodeRuleRuns(anchor: readonly RuleRecord[], rules: readonly RuleRecord[], maxItems: number): RuleRunItem[] | null {
  const index = indexOf(anchor);
  const items: RuleRunItem[] = [];
  let run: [number, number] | null = null;
  for (const record of rules) {
    const at = index.get(record);
    if (run && at === run[1]) {
      run[1]++;
      continue;
    }
    run = at === undefined ? null : [at, at + 1];
    items.push(run ?? record);
    if (items.length > maxItems) return null;
  }
  return items;
}

/** The rules `items` describe over `anchor`; a run outside the anchor or too many rules is an error. */
export function assembleRuleRuns(anchor: readonly RuleRecord[], items: readonly RuleRunItem[]): RuleRecord[] {
  let count = 0;
  items.forEach((item, i) => {
    if (!Array.isArray(item)) return void count++;
    const [from, to] = item;
    if (to > anchor.length) throw new RevisionRunsError(`rules.${i}: run [${from}, ${to}] is outside the anchor's ${anchor.length} rules`);
    count += to - from;
  });
  if (count > POLICY_LIMITS.rules) throw new RevisionRunsError(`${count} rules is more than a policy holds (${POLICY_LIMITS.rules})`);
  const rules: RuleRecord[] = [];
  for (const item of items) {
    if (Array.isArray(item)) for (let i = item[0]; i < item[1]; i++) rules.push(anchor[i]!);
    else rules.push(item);
  }
  return rules;
}

/** What to store for `content` as runs of `anchor`, or null when that takes more than `maxItems` items. */
export function encodeRevisionRuns(anchor: PolicyContent, content: PolicyContent, maxItems: number): RevisionRuns | null {
  const rules = encodeRuleRuns(anchor.rules, content.rules, maxItems);
  return rules && { ...content, rules };
}

/**
 * The content a stored runs object describes over its anchor's content, checked as a whole
 * content would be when parsed: the other fields by PolicyContentSchema, each literal record by
 * RuleRecordSchema, the rule limit, and one record per key.
 */
export function decodeRevisionRuns(anchor: PolicyContent, stored: unknown): PolicyContent {
  const runs = RevisionRunsSchema.safeParse(stored);
  if (!runs.success) throw new RevisionRunsError(summariseZodError(runs.error));
  const { rules: items, ...others } = runs.data;
  const rest = PolicyContentSchema.safeParse({ ...others, rules: [] });
  if (!rest.success) throw new RevisionRunsError(summariseZodError(rest.error));
  const rules = assembleRuleRuns(anchor.rules, items);
  const repeated = repeatedRuleKeys(rules)[0];
  if (repeated) throw new RevisionRunsError(`rules.${repeated.index}: ${repeated.message}`);
  return { ...rest.data, rules };
}
