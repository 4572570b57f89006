import { PolicyPublisher } from '../src/console/policies/publisher.js';
import { generateEd25519KeyPair } from '../src/shared/node/crypto.js';
import { decodeBundle, decodeDelta, noticeFor } from '../src/shared/node/policy-bundle-codec.js';
import { signDigest } from '../src/shared/node/signing.js';
import { groupSetKey } from '../src/shared/policies/merge.js';
import type { PolicyContent } from '../src/shared/policies/model.js';
import { hashRecords } from './rule-records.js';
import { benchArgs } from './args.js';

/**
 * `npm run bench:policy-cpu [-- --rules 100000 --sets 4 --rounds 3]`: the CPU a policy change
 * costs, without a fleet, so it can be compared side by side on a shared machine (process CPU
 * time, not wall time). The console's side: the real publisher merges and checks every group set
 * (`prepare`), signs them (`commit`) and compresses each bundle (`encode`, on libuv's pool); a
 * one-rule change repeats the three. A device's side: the agent's own checks of the full bundle
 * and of the one-rule delta (inflate, schema, signature, digest; the delta applied to what it
 * holds). Medians over `--rounds`; last line one JSON object.
 */
const args = benchArgs({ rules: { default: '100000' }, sets: { default: '4' }, rounds: { default: '3' } });
const rules = Number(args.rules);
const key = generateEd25519KeyPair();
let version = 0;
const publisher = new PolicyPublisher({
  sign: (sha256) => signDigest('policy', sha256, key.privateKeyPem, key.publicKey),
  now: () => new Date(),
  nextVersion: () => ++version,
  lifetimeMs: 30 * 86_400_000,
});

const record = hashRecords(rules + Number(args.rounds) + 1, 'file', '2026-12-04T00:00:00.000Z');
const baseline: PolicyContent = {
  settings: { applications: { mode: 'enforce', defaultAction: 'block' } },
  rules: Array.from({ length: rules }, (_, i) => record(i)),
};
const groups = Array.from({ length: Number(args.sets) - 1 }, (_, k) => `set-${k}`);
const policies = new Map<string, PolicyContent>([['baseline', baseline], ...groups.map((g): [string, PolicyContent] => [g, { settings: {}, rules: [] }])]);
const assignments = { baseline: 'baseline', assignments: groups.map((g, k) => ({ policy: g, group: g, precedence: k + 1 })) };
const matter = new Set(groups);
const sets = new Map<string, readonly string[]>([[], ...groups.map((g) => [g])].map((g) => [groupSetKey(g, matter), g]));

const cpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};
async function timed<T>(work: () => Promise<T> | T): Promise<[T, number]> {
  const start = cpuMs();
  const result = await work();
  return [result, cpuMs() - start];
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Publishes the current contents; answers the CPU of each step and the first set's encoded bundle. */
async function publish() {
  const [plan, prepareMs] = await timed(() => publisher.prepare({ policies, assignments }, sets));
  const [keys, commitMs] = await timed(() => publisher.commit(plan));
  const [encoded, encodeMs] = await timed(() => Promise.all(keys.map((k) => publisher.bundleBytes(publisher.current(k)!.digest)!)));
  return { prepareMs, commitMs, encodeMs, set: publisher.current(keys[0]!)!, encoded: encoded[0]! };
}

const figures = { fullPrepareMs: [] as number[], fullCommitMs: [] as number[], fullEncodeMs: [] as number[] };
const change = { prepareMs: [] as number[], commitMs: [] as number[], encodeMs: [] as number[] };
const device = { fullVerifyMs: [] as number[], deltaVerifyMs: [] as number[], deltaBytes: 0 };
const trust = (heldVersion: number | null) => ({ trustedKey: key.publicKey, heldVersion });

for (let round = 0; round < Number(args.rounds); round++) {
  // Each round starts from a freshly published full policy (new rule objects: nothing cached).
  policies.set('baseline', { ...baseline, rules: baseline.rules.map((r) => ({ ...r, rule: { ...r.rule } })) });
  const full = await publish();
  figures.fullPrepareMs.push(full.prepareMs);
  figures.fullCommitMs.push(full.commitMs);
  figures.fullEncodeMs.push(full.encodeMs);
  const [held, fullVerifyMs] = await timed(() => decodeBundle(full.encoded.bytes, noticeFor(full.encoded), trust(null)));
  if (!held.ok) throw new Error(`the full bundle was refused: ${held.detail}`);
  device.fullVerifyMs.push(fullVerifyMs);

  const current = policies.get('baseline')!;
  policies.set('baseline', { ...current, rules: [...current.rules, record(rules + round)] });
  const one = await publish();
  change.prepareMs.push(one.prepareMs);
  change.commitMs.push(one.commitMs);
  change.encodeMs.push(one.encodeMs);
  const delta = (await publisher.deltaBytes(full.set.digest, one.set.digest))!;
  device.deltaBytes = delta.bytes.length;
  const [next, deltaVerifyMs] = await timed(() => decodeDelta(delta.bytes, noticeFor(one.encoded, delta), held.bundle, trust(held.bundle.payload.version)));
  if (!next.ok) throw new Error(`the delta was refused: ${next.detail}`);
  device.deltaVerifyMs.push(deltaVerifyMs);
}

console.log(
  JSON.stringify({
    bench: 'policy-cpu',
    rules,
    sets: sets.size,
    rounds: Number(args.rounds),
    fullPrepareMs: Math.round(median(figures.fullPrepareMs)),
    fullCommitMs: Math.round(median(figures.fullCommitMs)),
    fullEncodeMs: Math.round(median(figures.fullEncodeMs)),
    changePrepareMs: Math.round(median(change.prepareMs)),
    changeCommitMs: Math.round(median(change.commitMs)),
    changeEncodeMs: Math.round(median(change.encodeMs)),
    deviceFullVerifyMs: Math.round(median(device.fullVerifyMs)),
    deviceDeltaVerifyMs: Math.round(median(device.deltaVerifyMs)),
    deltaBytes: device.deltaBytes,
  }),
);
