import { createHash, randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import type { PolicyModel } from '../src/console/policies/publisher.js';
import { startConsole } from '../src/console/server.js';
import { createLogger } from '../src/shared/node/log.js';
import { groupSetKey } from '../src/shared/policies/merge.js';
import type { PolicyContent, RuleRecord } from '../src/shared/policies/model.js';
import { benchArgs } from './args.js';

/**
 * The real console (startConsole: store, hub, fetch routes, distribution, feed) for
 * `npm run bench:policy`, with the policy plane's part played by this script until groups land:
 * every device is placed in one of `--sets` group sets by its id, and on a `publish` line on
 * stdin a model (a baseline of `rules` hash rules plus one rule per group set) is prepared and
 * committed through the console's PolicyDistribution — the seam the plane will call. Prints one
 * JSON line per publication with what each group set's devices are offered.
 */
const args = benchArgs({ sets: { default: '3' } });
const sets = Number(args.sets);
const groups = Array.from({ length: sets }, (_, i) => `set-${i}`);
const matter = new Set(groups);
const place = (deviceId: string) => {
  const group = groups[createHash('sha256').update(deviceId).digest()[0]! % sets]!;
  return { key: groupSetKey([group], matter), groups: [group] };
};
let version = 0;
const running = await startConsole({
  dataDir: process.env.VIGIL_BENCH_DATA_DIR!,
  host: '127.0.0.1',
  port: 0,
  log: createLogger('console', 'error'),
  policyPlacement: { groupSetOf: place, nextVersion: () => ++version },
});
process.stdout.write(`listening on ${running.url}\n`);

const AT = new Date().toISOString();
const record = (sha256: string): RuleRecord => ({
  rule: { kind: 'sha256', sha256, action: 'allow' },
  exception: false,
  author: 'bench',
  addedAt: AT,
  origin: 'file',
});
let baseline: RuleRecord[] = [];

createInterface({ input: process.stdin }).on('line', (line) => {
  void (async () => {
    const command = JSON.parse(line) as { rules?: number; changeOne?: boolean };
    if (command.rules) baseline = Array.from({ length: command.rules }, () => record(randomBytes(32).toString('hex')));
    if (command.changeOne) baseline = [...baseline.slice(0, -1), record(randomBytes(32).toString('hex'))];
    const model: PolicyModel = {
      policies: new Map<string, PolicyContent>([
        ['baseline', { settings: { applications: { mode: 'enforce', defaultAction: 'block' } }, rules: baseline }],
        ...groups.map((g, i): [string, PolicyContent] => [g, { settings: {}, rules: [record(createHash('sha256').update(`group ${i}`).digest('hex'))] }]),
      ]),
      assignments: { baseline: 'baseline', assignments: groups.map((g, i) => ({ policy: g, group: g, precedence: i + 1 })) },
    };
    const started = Date.now();
    const groupSets = new Map(groups.map((g) => [groupSetKey([g], matter), [g]]));
    const plan = await running.distribution.prepare(model, groupSets);
    const prepared = Date.now();
    const { notified } = await running.distribution.commit(plan);
    const offered = await Promise.all([...groupSets.keys()].map((key) => running.distribution.published(key)));
    process.stdout.write(
      `${JSON.stringify({ published: offered, prepareMs: prepared - started, commitMs: Date.now() - prepared, notified, stats: running.distribution.stats })}\n`,
    );
  })().catch((error: unknown) => {
    process.stderr.write(`publish failed: ${(error as Error).stack}\n`);
    process.exit(1);
  });
});
