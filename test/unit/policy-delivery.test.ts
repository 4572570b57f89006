import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/shared/canonical-json.js';
import { generateEd25519KeyPair, sha256Hex } from '../../src/shared/node/crypto.js';
import {
  compress,
  compressAsync,
  decodeBundle,
  decodeDelta,
  encodeBundle,
  encodeDelta,
  inflate,
  noticeFor,
} from '../../src/shared/node/policy-bundle-codec.js';
import { POLICY_LIMITS } from '../../src/shared/policy-limits.js';
import { policyDigest } from '../../src/shared/node/policy-verify.js';
import { PolicyAvailableMessageSchema, PolicyDeltaSchema, type PolicyDelta } from '../../src/shared/policies/delivery.js';
import { applyDelta, canonicalPayload, makeDelta } from '../../src/shared/policies/delta.js';
import { consoleKey, hashRules, NOW, payloadWith, signed } from '../helpers/policy-bundles.js';

const trust = (heldVersion: number | null = null) => ({ trustedKey: consoleKey.publicKey, heldVersion, now: NOW });

describe('canonical form', () => {
  it('puts rules in one order whatever order they came in, and is idempotent', () => {
    const rules = hashRules(50);
    const a = payloadWith(1, rules);
    const b = payloadWith(1, [...rules].reverse());
    expect(canonicalJson(a)).toBe(canonicalJson(b));
    expect(canonicalPayload(a)).toEqual(a);
    expect(payloadWith(1, [...rules, ...rules]).policy.applications!.rules).toHaveLength(50);
  });
});

describe('deltas', () => {
  it('reproduce the target document exactly (property: any two rule sets and settings)', () => {
    const arbRules = fc.uniqueArray(fc.integer({ min: 0, max: 60 }), { maxLength: 40 }).map((ns) => ns.map((n) => hashRules(1, n)[0]!));
    fc.assert(
      fc.property(arbRules, arbRules, fc.boolean(), fc.integer({ min: 5, max: 900 }), (fromRules, toRules, aupChanges, lock) => {
        const from = signed(payloadWith(3, fromRules));
        const to = signed(payloadWith(4, toRules, { session: { lockAfterIdleSeconds: lock } as never, ...(aupChanges ? { aup: undefined } : {}) }));
        const delta = makeDelta({ payload: from.payload, digest: from.digest }, { payload: to.payload, digest: to.digest, signature: to.signature })!;
        expect(PolicyDeltaSchema.safeParse(delta).success).toBe(true);
        const applied = applyDelta(from.payload, delta);
        expect(applied.ok).toBe(true);
        expect(policyDigest((applied as { payload: never }).payload)).toBe(to.digest);
      }),
      { numRuns: 200 },
    );
  });

  it('are made by one walk over lists in canonical order, and by membership from a held list in any other order (property)', () => {
    const arbRules = fc.uniqueArray(fc.integer({ min: 0, max: 60 }), { maxLength: 40 }).map((ns) => ns.map((n) => hashRules(1, n)[0]!));
    fc.assert(
      fc.property(arbRules, arbRules, fc.boolean(), (fromRules, toRules, reorder) => {
        const canonical = payloadWith(3, fromRules);
        const apps = canonical.policy.applications!;
        // A bundle signed before canonical order was kept (adopted from the store): its rules in another order.
        const fromPayload = reorder
          ? { ...canonical, policy: { ...canonical.policy, applications: { ...apps, rules: [...apps.rules].reverse() } } }
          : canonical;
        const from = signed(fromPayload);
        const to = signed(payloadWith(4, toRules));
        const delta = makeDelta({ payload: from.payload, digest: from.digest }, { payload: to.payload, digest: to.digest, signature: to.signature })!;
        const wanted = new Set(to.payload.policy.applications!.rules.map((r) => canonicalJson(r)));
        const held = from.payload.policy.applications!.rules.map((r) => canonicalJson(r));
        expect(delta.rules.remove).toEqual(held.flatMap((text, i) => (wanted.has(text) ? [] : [i])));
        expect(delta.rules.add.map((r) => canonicalJson(r)).sort()).toEqual([...wanted].filter((t) => !held.includes(t)).sort());
        const applied = applyDelta(from.payload, delta);
        expect(applied.ok && policyDigest(applied.payload as never)).toBe(to.digest);
      }),
      { numRuns: 200 },
    );
  });

  it('a one-rule change to a 100,000-rule policy is a delta of under 2 KB on the wire, and the full bundle is compressed', () => {
    const rules = hashRules(100_000);
    const from = signed(payloadWith(7, rules));
    const changed = rules.map((r, i) => (i === 99_999 ? { ...r, action: 'block' as const } : r));
    const to = signed(payloadWith(8, changed));
    const delta = makeDelta({ payload: from.payload, digest: from.digest }, { payload: to.payload, digest: to.digest, signature: to.signature })!;
    expect(delta.rules.remove).toHaveLength(1);
    expect(delta.rules.add).toEqual([changed[99_999]]);
    const wire = encodeDelta(delta);
    expect(wire.bytes.length).toBeLessThan(2048);
    const full = encodeBundle(to);
    expect(full.size).toBeGreaterThan(POLICY_LIMITS.rules * 0); // sanity: sizes are reported
    expect(full.bytes.length).toBeLessThan(full.size / 2);
    const notice = noticeFor(full, wire);
    // Small enough to travel inside the notice, whose whole frame stays under 2 KB.
    expect(Buffer.from(notice.delta!.inline!, 'base64')).toEqual(wire.bytes);
    expect(Buffer.byteLength(JSON.stringify(notice))).toBeLessThan(2048);
    expect(PolicyAvailableMessageSchema.safeParse(notice).success).toBe(true);
    const taken = decodeDelta(wire.bytes, notice, from, trust(7));
    expect(taken).toMatchObject({ ok: true });
    expect((taken as { bundle: { payload: unknown } }).bundle.payload).toEqual(to.payload);
  });

  it('a delta over the inline limit is announced to be fetched, and a notice carrying more is refused as malformed', () => {
    const from = signed(payloadWith(1, []));
    const to = signed(payloadWith(2, hashRules(1000)));
    const wire = encodeDelta(makeDelta({ payload: from.payload, digest: from.digest }, { payload: to.payload, digest: to.digest, signature: to.signature })!);
    expect(wire.bytes.length).toBeGreaterThan(POLICY_LIMITS.inlineDeltaBytes);
    const notice = noticeFor(encodeBundle(to), wire);
    expect(notice.delta).toBeDefined();
    expect(notice.delta!.inline).toBeUndefined();
    const stuffed = { ...notice, delta: { ...notice.delta!, inline: wire.bytes.toString('base64') } };
    expect(PolicyAvailableMessageSchema.safeParse(stuffed).success).toBe(false);
  });

  it('a change too big for a delta is left to the full bundle', () => {
    const from = signed(payloadWith(1, []));
    const to = signed(payloadWith(2, hashRules(POLICY_LIMITS.deltaRules + 1)));
    expect(makeDelta({ payload: from.payload, digest: from.digest }, { payload: to.payload, digest: to.digest, signature: to.signature })).toBeNull();
  });
});

describe('a tampered or mismatched delta is refused, and the full bundle still works', () => {
  const from = signed(payloadWith(7, hashRules(200)));
  const target = hashRules(200).map((r, i) => (i === 5 ? { ...r, action: 'block' as const } : r));
  const to = signed(payloadWith(8, target));
  const honest = makeDelta({ payload: from.payload, digest: from.digest }, { payload: to.payload, digest: to.digest, signature: to.signature })!;
  const full = encodeBundle(to);
  /** The notice announces exactly the tampered bytes: only the signature can catch the change. */
  const attempt = (delta: PolicyDelta) => {
    const wire = encodeDelta(delta);
    return decodeDelta(wire.bytes, noticeFor(full, wire), from, trust(7));
  };

  it('the honest delta is taken', () => {
    expect(attempt(honest)).toMatchObject({ ok: true });
  });
  it('an added rule changed in transit', () => {
    const tampered = structuredClone(honest);
    tampered.rules.add[0] = { ...tampered.rules.add[0]!, action: 'allow' };
    expect(attempt(tampered)).toMatchObject({ ok: false, problem: 'delta-mismatch' });
  });
  it('a different rule removed', () => {
    const tampered = structuredClone(honest);
    tampered.rules.remove = [tampered.rules.remove[0]! + 1];
    expect(attempt(tampered)).toMatchObject({ ok: false, problem: 'delta-mismatch' });
  });
  it('a removal out of range or a member path into the prototype', () => {
    expect(attempt({ ...honest, rules: { ...honest.rules, remove: [10_000] } })).toMatchObject({ ok: false, problem: 'delta-mismatch' });
    expect(attempt({ ...honest, members: [{ path: ['__proto__', 'polluted'], value: 1 }] })).toMatchObject({ ok: false, problem: 'delta-mismatch' });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
  it('a settings member changed in transit', () => {
    expect(attempt({ ...honest, members: [...honest.members, { path: ['policy', 'applications', 'mode'], value: 'monitor' }] })).toMatchObject({
      ok: false,
      problem: 'delta-mismatch',
    });
  });
  it('a member that makes the rest of the payload invalid is refused as malformed: the parts not taken from checked rules are parsed', () => {
    expect(attempt({ ...honest, members: [...honest.members, { path: ['policy', 'applications', 'mode'], value: 'bogus' }] })).toMatchObject({
      ok: false,
      problem: 'malformed',
    });
    expect(attempt({ ...honest, members: [...honest.members, { path: ['policy', 'applications', 'extra'], value: 1 }] })).toMatchObject({
      ok: false,
      problem: 'malformed',
    });
    expect(attempt({ ...honest, members: [...honest.members, { path: ['policy', 'agent'], value: { heartbeatSeconds: -1 } }] })).toMatchObject({
      ok: false,
      problem: 'malformed',
    });
  });
  it("a delta taking the held rules past the policy's rule limit is refused with the limit named, before any signature check", () => {
    const atLimit = signed(payloadWith(7, hashRules(POLICY_LIMITS.rules)));
    const past = { ...honest, fromDigest: atLimit.digest, rules: { remove: [], add: hashRules(1, POLICY_LIMITS.rules + 5) } };
    const wire = encodeDelta(past);
    const refused = decodeDelta(wire.bytes, noticeFor(full, wire), atLimit, trust(7));
    expect(refused).toMatchObject({ ok: false, problem: 'malformed' });
    expect(refused.ok || refused.detail).toContain(String(POLICY_LIMITS.rules));
  });
  it('a delta from another base', () => {
    const other = signed(payloadWith(6, hashRules(3)));
    const wire = encodeDelta(honest);
    expect(decodeDelta(wire.bytes, noticeFor(full, wire), other, trust(6))).toMatchObject({ ok: false, problem: 'delta-mismatch' });
  });
  it('bytes that are not the announced ones', () => {
    const wire = encodeDelta(honest);
    const notice = noticeFor(full, wire);
    const flipped = Buffer.from(wire.bytes);
    flipped[10]! ^= 1;
    expect(decodeDelta(flipped, notice, from, trust(7))).toMatchObject({ ok: false, problem: 'compressed-digest-mismatch' });
  });
  it('after any of these the full bundle is taken', () => {
    expect(decodeBundle(full.bytes, noticeFor(full), trust(7))).toMatchObject({ ok: true, bundle: { payload: to.payload } });
  });
});

describe('full bundles: every byte checked', () => {
  const bundle = signed(payloadWith(9, hashRules(1000)));
  const encoded = encodeBundle(bundle);
  const notice = noticeFor(encoded);

  it('is taken when bytes, size, digest and signature agree (brotli and gzip)', () => {
    expect(encoded.encoding).toBe('br');
    expect(decodeBundle(encoded.bytes, notice, trust(8))).toMatchObject({ ok: true });
    const gzip = encodeBundle(bundle, 'gzip');
    expect(decodeBundle(gzip.bytes, noticeFor(gzip), trust(8))).toMatchObject({ ok: true });
  });
  it('an older signed bundle replayed is refused as a rollback', () => {
    const old = encodeBundle(signed(payloadWith(5, hashRules(10))));
    expect(decodeBundle(old.bytes, noticeFor(old), trust(9))).toMatchObject({ ok: false, problem: 'rollback' });
  });
  it('a genuine bundle that is not the announced one is refused', () => {
    const other = encodeBundle(signed(payloadWith(10, hashRules(3))));
    expect(decodeBundle(other.bytes, { ...noticeFor(other), digest: encoded.digest }, trust(8))).toMatchObject({ ok: false, problem: 'digest-mismatch' });
  });
  it('a bundle signed by another key is refused', () => {
    const forged = encodeBundle(signed(payloadWith(10, hashRules(3)), generateEd25519KeyPair()));
    expect(decodeBundle(forged.bytes, noticeFor(forged), trust(8))).toMatchObject({ ok: false, problem: 'unknown-signer' });
  });
  it('something that inflates beyond what was announced is refused before it is held in memory', () => {
    const bomb = gzipSync(Buffer.alloc(50 * 1024 * 1024, 0x20));
    const lying = { ...notice, size: 1000, compressed: { encoding: 'gzip' as const, size: bomb.length, sha256: sha256Hex(bomb) } };
    expect(decodeBundle(bomb, lying, trust(8))).toMatchObject({ ok: false, problem: 'too-large' });
    expect(decodeBundle(encoded.bytes, { ...notice, size: POLICY_LIMITS.bundleBytes + 1 }, trust(8))).toMatchObject({
      ok: false,
      problem: 'too-large',
      detail: expect.stringContaining('bundle size limit'),
    });
  });
  it('garbage is malformed, not a crash', () => {
    const junk = compress('not json', 'br');
    expect(decodeBundle(junk.bytes, { ...notice, compressed: { encoding: 'br', size: junk.bytes.length, sha256: junk.sha256 } }, trust(8))).toMatchObject({
      ok: false,
      problem: 'malformed',
    });
  });
});

describe('compressing on the thread pool', () => {
  it('takes a few trips to the pool, not one per 16 KB, so a busy console does not hold a bundle for hundreds of its turns', async () => {
    // About 3.5 MB of compressed output, as a 100,000-rule bundle. Each turn of the event loop
    // is kept busy for 30 ms, as a busy console's can be, while the pool compresses beside it: a
    // compression that needs a turn per 16 KB of output needs over two hundred of them.
    const text = randomBytes(3_500_000).toString('hex');
    let turns = 0;
    let done = false;
    const busyTurn = () => {
      if (done) return;
      turns++;
      const until = performance.now() + 30;
      while (performance.now() < until);
      setImmediate(busyTurn);
    };
    setImmediate(busyTurn);
    for (const encoding of ['br', 'gzip'] as const) {
      turns = 0;
      const blob = await compressAsync(text, encoding);
      expect(blob.bytes.length).toBeGreaterThan(3_000_000);
      expect(inflate(blob.bytes, encoding, blob.size).toString()).toBe(text);
      expect(turns).toBeLessThan(30);
    }
    done = true;
  });

  it('compresses and hashes bytes given in parts as the same bytes joined', async () => {
    const parts = [Buffer.from('{"payload":'), randomBytes(600_000), Buffer.alloc(0), Buffer.from(randomBytes(300_000).toString('hex')), Buffer.from('}')];
    const joined = Buffer.concat(parts);
    for (const encoding of ['br', 'gzip'] as const) {
      const blob = await compressAsync(parts, encoding);
      expect(blob.size).toBe(joined.length);
      expect(inflate(blob.bytes, encoding, blob.size).equals(joined)).toBe(true);
    }
    expect(sha256Hex(parts)).toBe(sha256Hex(joined));
  });
});
