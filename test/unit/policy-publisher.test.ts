import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/shared/canonical-json.js';
import { PolicyLimitError, type PolicyModel } from '../../src/console/policies/publisher.js';
import { decodeBundle, decodeDelta, inflate, type EncodedBlob } from '../../src/shared/node/policy-bundle-codec.js';
import { POLICY_LIMITS } from '../../src/shared/policy-limits.js';
import { groupSetKey } from '../../src/shared/policies/merge.js';
import type { PolicyContent, RuleRecord } from '../../src/shared/policies/model.js';
import { consoleKey, testPublisher } from '../helpers/policy-bundles.js';
import { hashRecord, hashRule, rec } from '../helpers/policy-model.js';
import { checkPolicyBundle } from '../../src/shared/node/policy-verify.js';

const now = new Date('2026-12-02T12:00:00Z');
const publisher = () => testPublisher(() => now);
const rule = hashRecord;
const many = (count: number, from = 0) => Array.from({ length: count }, (_, i) => rule(from + i));
const model = (base: RuleRecord[], lab: PolicyContent = { settings: { aup: { variant: 'lab' } }, rules: [] }): PolicyModel => ({
  policies: new Map([
    ['base', { settings: { aup: { variant: 'secondary' }, applications: { mode: 'enforce', defaultAction: 'block' } }, rules: base }],
    ['lab', lab],
  ]),
  assignments: { baseline: 'base', assignments: [{ policy: 'lab', group: 'lab', precedence: 10 }] },
});
const matter = new Set(['lab']);
const sets = (...groupLists: string[][]) => new Map(groupLists.map((g) => [groupSetKey(g, matter), g]));
const inflated = (blob: EncodedBlob) => inflate(blob.bytes, blob.encoding, 64 * 1024 * 1024);
const trust = (heldVersion: number | null) => ({ trustedKey: consoleKey.publicKey, heldVersion, now });

describe('policy publisher', () => {
  it('one signed bundle per group set, shared by every device in it; different sets, different policies', async () => {
    const p = publisher();
    expect(await p.update(model(many(10)), sets([], ['lab']))).toHaveLength(2);
    const plain = p.current(groupSetKey(['year-7'], matter))!;
    const lab = p.current(groupSetKey(['lab', 'year-7'], matter))!;
    expect(plain.digest).not.toBe(lab.digest);
    expect(plain.version).toBe(lab.version);
    expect(plain.payload.policy.aup?.variant).toBe('secondary');
    expect(lab.payload.policy.aup?.variant).toBe('lab');
    expect(p.bundleBytes(lab.digest)).toBe(p.bundleBytes(lab.digest)); // compressed once, shared
    const taken = decodeBundle((await p.bundleBytes(lab.digest))!.bytes, (await p.noticeFor(lab.key, { version: null, digest: null }))!, trust(null));
    expect(taken).toMatchObject({ ok: true, bundle: { payload: { policy: { aup: { variant: 'lab' } } } } });
  });

  it('compresses from the bytes it signed: the served bundle inflates to exactly the bundle’s canonical JSON', async () => {
    const p = publisher();
    const named = { ...rule(1), rule: { kind: 'path' as const, path: '/opt/Ünterricht/ça-va «ok».AppImage', action: 'allow' as const } };
    await p.update(model([...many(50), named]), sets([]));
    const set = p.current(groupSetKey([], matter))!;
    const served = (await p.bundleBytes(set.digest))!;
    expect(served.encoding).toBe('br');
    expect(inflated(served).equals(Buffer.from(canonicalJson({ payload: set.payload, signature: set.signature }), 'utf8'))).toBe(true);
    expect(served.size).toBe(inflated(served).length);
  });

  it('signs each change over exactly its canonical JSON, when it copies the lists a set was signed with around what changed (property)', async () => {
    // Records are kept across revisions, as the plane's edits keep them: a kept member is known by identity.
    const pool = [
      ...Array.from({ length: 40 }, (_, i) => rule(i)),
      ...Array.from({ length: 6 }, (_, i) => rec(hashRule(100 + i), { exception: true, reason: 'lesson', expiresAt: '2027-06-01T00:00:00.000Z' })),
      ...Array.from({ length: 6 }, (_, i) => rec(hashRule(200 + i, 'block', { groups: ['lab'] }))),
      rec({ kind: 'path', pattern: '/opt/Ünterricht/ça «ok».AppImage', action: 'allow' }),
    ];
    // A lab rule for a program the baseline also has a rule for: it shadows the baseline's there.
    const labRule = rec(hashRule(3, 'block'));
    const step = fc.record({ base: fc.array(fc.boolean(), { minLength: pool.length, maxLength: pool.length }), lab: fc.boolean() });
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 2, maxLength: 5 }), async (steps) => {
        const p = publisher();
        for (const { base, lab } of steps) {
          await p.update(
            model(
              pool.filter((_, i) => base[i]),
              { settings: {}, rules: lab ? [labRule] : [] },
            ),
            sets([], ['lab']),
          );
          for (const set of p.all()) {
            const text = canonicalJson({ payload: set.payload, signature: set.signature });
            expect(inflated((await p.bundleBytes(set.digest))!).toString('utf8')).toBe(text);
            expect(set.contentDigest).toBe(createHash('sha256').update(canonicalJson(set.payload.policy)).digest('hex'));
            expect(checkPolicyBundle(JSON.parse(text), trust(null))).toMatchObject({ ok: true });
          }
        }
      }),
      { numRuns: 40 },
    );
  });

  it('nothing changed: nothing signed; a change: a new, higher version, offered as a small delta', async () => {
    const p = publisher();
    await p.update(model(many(5000)), sets([]));
    const before = p.current(groupSetKey([], matter))!;
    expect(await p.update(model(many(5000)), sets([]))).toEqual([]);
    const changed = many(5000);
    changed[4321] = rule(4321, 'block');
    await p.update(model(changed), sets([]));
    const after = p.current(before.key)!;
    expect(after.version).toBeGreaterThan(before.version);
    const notice = (await p.noticeFor(after.key, { version: before.version, digest: before.digest }))!;
    expect(notice.delta?.size).toBeLessThan(2048);
    const delta = (await p.deltaBytes(before.digest, after.digest))!;
    expect(decodeDelta(delta.bytes, notice, { payload: before.payload, signature: before.signature }, trust(before.version))).toMatchObject({
      ok: true,
      bundle: { payload: after.payload },
    });
    expect(await p.noticeFor(after.key, { version: after.version, digest: after.digest })).toBeNull();
    // As sent: serialised once for every device holding the same bundle, and dropped once a newer one is signed.
    const held = { version: before.version, digest: before.digest };
    const text = (await p.noticeTextFor(after.key, held))!;
    expect(JSON.parse(text)).toEqual(notice);
    expect(await p.noticeTextFor(after.key, { ...held })).toBe(text);
    expect(await p.noticeTextFor(after.key, { version: after.version, digest: after.digest })).toBeNull();
    // A new revision: published rule lists are never changed in place.
    const newer17 = [...changed];
    newer17[17] = rule(17, 'block');
    await p.update(model(newer17), sets([]));
    const newer = JSON.parse((await p.noticeTextFor(after.key, held))!);
    expect(newer.version).toBeGreaterThan(after.version);
    expect(newer.digest).toBe(p.current(after.key)!.digest);
  });

  it('publishing earlier content again (a rollback) is a higher version, and the old bundle is still refused', async () => {
    const p = publisher();
    await p.update(model(many(3)), sets([]));
    const v1 = p.current(groupSetKey([], matter))!;
    await p.update(model(many(4)), sets([]));
    await p.update(model(many(3)), sets([]));
    const rolledBack = p.current(v1.key)!;
    expect(rolledBack.version).toBeGreaterThan(v1.version + 1);
    expect(rolledBack.contentDigest).toBe(v1.contentDigest);
    const old = (await p.bundleBytes(v1.digest))!;
    expect(
      decodeBundle(
        old.bytes,
        {
          ...(await p.noticeFor(v1.key, { version: null, digest: null }))!,
          digest: old.digest,
          compressed: { encoding: old.encoding, size: old.bytes.length, sha256: old.sha256 },
          size: old.size,
        },
        trust(rolledBack.version),
      ),
    ).toMatchObject({ ok: false, problem: 'rollback' });
  });

  it('a device moving into a group set signed earlier than what it holds gets that set signed again, higher', async () => {
    const p = publisher();
    await p.update(model(many(3)), sets([], ['lab']));
    const lab = p.current(groupSetKey(['lab'], matter))!;
    const plain = p.current(groupSetKey([], matter))!;
    // The lab set is signed at one version, the no-group set later at a higher one.
    await p.update(model(many(4), { settings: { aup: { variant: 'lab' } }, rules: [rule(99)] }), sets(['lab']));
    await p.update(model(many(5), { settings: { aup: { variant: 'lab' } }, rules: [rule(99)] }), sets([]));
    const plainNow = p.current(plain.key)!;
    const labNow = p.current(lab.key)!;
    expect(plainNow.version).toBeGreaterThan(labNow.version);
    const notice = (await p.noticeFor(lab.key, { version: plainNow.version, digest: plainNow.digest }))!;
    expect(notice.version).toBeGreaterThan(plainNow.version);
    expect(decodeBundle((await p.bundleBytes(notice.digest))!.bytes, notice, trust(plainNow.version))).toMatchObject({
      ok: true,
      bundle: { payload: { policy: { aup: { variant: 'lab' } } } },
    });
  });

  it('refuses, naming the limit, a change that would make some effective policy too big', async () => {
    const p = publisher();
    const half = POLICY_LIMITS.rules / 2 + 1;
    const big = model(many(half), { settings: {}, rules: many(half, half) });
    await expect(p.prepare(big, sets([]))).resolves.toMatchObject({ changed: [{ key: groupSetKey([], matter) }] });
    const refused = p.prepare(big, sets(['lab']));
    await expect(refused).rejects.toThrow(PolicyLimitError);
    await expect(refused).rejects.toThrow(
      `devices in lab: the effective policy would hold ${2 * half} rules; the policy's rule limit is ${POLICY_LIMITS.rules}`,
    );
    expect(p.current(groupSetKey([], matter))).toBeUndefined(); // nothing was signed
  });
});
