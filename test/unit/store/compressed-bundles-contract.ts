import { expect, it } from 'vitest';
import type { ConsoleStore } from '../../../src/console/store/store.js';
import { canonicalJson } from '../../../src/shared/canonical-json.js';
import { encodeBundle } from '../../../src/shared/node/policy-bundle-codec.js';

type Open = () => Promise<{ store: ConsoleStore; reopen(): Promise<ConsoleStore> }>;

const at = '2026-12-05T08:00:00.000Z';
const signature = { alg: 'ed25519-sha256' as const, keyId: '0123456789abcdef', value: `${'A'.repeat(86)}==` };
const bundle = (version: number, rules: number) => ({
  payload: {
    kind: 'vigil.policy-bundle' as const,
    version,
    issuedAt: at,
    expiresAt: '2027-01-01T00:00:00.000Z',
    policy: {
      format: 'vigil-policy/1' as const,
      name: 'Lab',
      agent: { heartbeatSeconds: 30, statusSeconds: 60 },
      applications: {
        mode: 'enforce' as const,
        defaultAction: 'block' as const,
        rules: Array.from({ length: rules }, (_, i) => ({ kind: 'sha256' as const, sha256: i.toString(16).padStart(64, '0'), action: 'allow' as const })),
        exceptions: [],
      },
    },
  },
  signature,
});

/**
 * Signed bundles stored compressed, as devices fetch them (migration 11), run by storeContract
 * for every adapter: a group set and the fleet's record read back as the very bundle, the
 * record's document is its bundle's policy, and rows written as JSON before still read.
 */
export function compressedBundlesContract(open: Open): void {
  it('policy bundles: stored compressed as served, read back as the same bundle and document, beside ones stored as JSON', async () => {
    const { store, reopen } = await open();
    const v1 = await store.allocatePolicyVersion();
    const old = bundle(v1, 3);
    await store.savePolicySets([{ key: '[]', groups: [], bundle: old, bundleJson: canonicalJson(old), contentDigest: 'd1', nextChangeAt: null }], {
      version: v1,
      bundle: old,
      document: old.payload.policy,
      publishedBy: 'console:policy-plane',
      publishedAt: at,
    });
    const v2 = await store.allocatePolicyVersion();
    const next = bundle(v2, 2000);
    const { bytes, encoding } = encodeBundle(next);
    await store.savePolicySets([{ key: '["lab"]', groups: ['lab'], bundle: next, encoded: { bytes, encoding }, contentDigest: 'd2', nextChangeAt: null }], {
      version: v2,
      bundle: next,
      document: next.payload.policy,
      publishedBy: 'console:policy-plane',
      publishedAt: at,
      encoded: { bytes, encoding },
    });
    const again = await reopen();
    expect((await again.listPolicySets()).map((s) => [s.key, s.bundle])).toEqual([
      ['["lab"]', next],
      ['[]', old],
    ]);
    expect(await again.latestPolicy()).toEqual({
      version: v2,
      bundle: next,
      document: next.payload.policy,
      publishedBy: 'console:policy-plane',
      publishedAt: at,
    });
    expect((await again.listPolicies(10)).map((p) => [p.version, p.document])).toEqual([
      [v2, next.payload.policy],
      [v1, old.payload.policy],
    ]);
    await again.close();
    await store.close().catch(() => undefined);
  });
}
