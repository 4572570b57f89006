import { expect, it } from 'vitest';
import { ConflictError } from '../../../src/console/errors.js';
import { canonicalJson } from '../../../src/shared/canonical-json.js';
import type { ConsoleStore, PolicyChange } from '../../../src/console/store/store.js';
import type { PolicyContent, PolicyRevision } from '../../../src/shared/policies/model.js';
import { addTestToken } from '../../helpers/console-store.js';
import { deviceRecord } from '../../../bench/device-record.js';
import type { OpenedStore } from './contract.js';
import { revisionStorageContract } from './revision-storage-contract.js';

/**
 * The policy plane's store domains (groups, named policies, assignments, the one-transaction
 * change writer, the version counter), run by storeContract for every adapter.
 */
type Open = () => Promise<OpenedStore>;

const at = '2026-12-04T08:00:00.000Z';
const content = (sha: string): PolicyContent => ({
  settings: { aup: { variant: 'staff' } },
  rules: [{ rule: { kind: 'sha256', sha256: sha.repeat(64), action: 'allow' }, exception: false, author: 'sm', addedAt: at, origin: 'console' }],
});
const revision = (policy: string, n: number, c: PolicyContent, change: PolicyRevision['change'] = 'create'): PolicyRevision => ({
  policy,
  revision: n,
  author: 'sm',
  at,
  change,
  content: c,
});
const audit = (action: string) => ({ at, actor: 'sm', action, target: null, detail: { n: 1 } });

async function withTokenAndDevice(store: ConsoleStore) {
  await addTestToken(store);
  const d = deviceRecord();
  await store.enrollDevice(d, 'tok');
  return d;
}

export function policyPlaneContract(open: Open): void {
  revisionStorageContract(open);

  it('policy plane: groups, token defaults and ownership round-trip, rename carries members and assignments, delete cascades', async () => {
    const { store, reopen } = await open();
    const d = await withTokenAndDevice(store);
    expect(await store.listGroups()).toEqual([]);
    expect(await store.getAssignments()).toBeNull();
    await store.applyPolicyChange({
      putGroups: [
        { name: 'lab', displayName: 'Lab', description: 'room 4', devices: [d.id], rules: [{ kind: 'hostname', pattern: 'lab-*' }] },
        { name: 'staff', displayName: 'Staff', devices: [], rules: [{ kind: 'ownership', ownership: 'school' }] },
      ],
      tokenGroups: [{ tokenId: 'tok', groups: ['lab', 'staff'] }],
      ownership: [{ deviceId: d.id, ownership: 'byod' }],
      revisions: [{ displayName: 'Base', revision: revision('base', 1, content('a')) }],
      assignments: { baseline: 'base', assignments: [{ policy: 'base', group: 'lab', precedence: 10 }] },
      audit: [audit('group.created')],
    });
    const again = await reopen();
    expect(await again.listGroups()).toEqual([
      { name: 'lab', displayName: 'Lab', description: 'room 4', devices: [d.id], rules: [{ kind: 'hostname', pattern: 'lab-*' }] },
      { name: 'staff', displayName: 'Staff', devices: [], rules: [{ kind: 'ownership', ownership: 'school' }] },
    ]);
    expect(await again.listTokenGroups()).toEqual(new Map([['tok', ['lab', 'staff']]]));
    expect(await again.listDeviceOwnership()).toEqual(new Map([[d.id, 'byod']]));
    expect(await again.deviceOwnership(d.id)).toBe('byod');
    expect((await again.listAudit(10)).map((a) => a.action)).toContain('group.created');

    await again.applyPolicyChange({ renameGroup: { from: 'lab', to: 'lab-4' }, audit: [] });
    expect((await again.listGroups()).find((g) => g.name === 'lab-4')?.devices).toEqual([d.id]);
    expect(await again.listTokenGroups()).toEqual(new Map([['tok', ['lab-4', 'staff']]]));
    expect(await again.getAssignments()).toEqual({ baseline: 'base', assignments: [{ policy: 'base', group: 'lab-4', precedence: 10 }] });

    await again.applyPolicyChange({
      assignments: { baseline: 'base', assignments: [] },
      deleteGroups: ['lab-4'],
      ownership: [{ deviceId: d.id, ownership: null }],
      audit: [],
    });
    expect((await again.listGroups()).map((g) => g.name)).toEqual(['staff']);
    expect(await again.listTokenGroups()).toEqual(new Map([['tok', ['staff']]]));
    expect(await again.listDeviceOwnership()).toEqual(new Map());
    expect(await again.deviceOwnership(d.id)).toBeNull();
    await again.close();
    await store.close().catch(() => undefined);
  });

  it('policy plane: revisions only move on by one; history is newest first; a refused change stores nothing, its audit included', async () => {
    const { store } = await open();
    await store.applyPolicyChange({ revisions: [{ displayName: 'Lab', revision: revision('lab', 1, content('a')) }], audit: [] });
    await store.applyPolicyChange({
      revisions: [{ displayName: 'Lab rules', description: 'd', revision: { ...revision('lab', 2, content('b'), 'rule-add'), reason: 'why not' } }],
      audit: [],
    });
    expect(await store.getNamedPolicy('lab')).toEqual({ name: 'lab', displayName: 'Lab rules', description: 'd', revision: 2, content: content('b') });
    expect(await store.getNamedPolicy('nope')).toBeNull();
    expect((await store.listNamedPolicies()).map((p) => [p.name, p.revision])).toEqual([['lab', 2]]);
    expect(await store.listPolicyRevisions('lab', 10)).toEqual([
      { policy: 'lab', revision: 2, author: 'sm', at, change: 'rule-add', reason: 'why not' },
      { policy: 'lab', revision: 1, author: 'sm', at, change: 'create' },
    ]);
    expect(await store.getPolicyRevision('lab', 1)).toEqual(revision('lab', 1, content('a')));
    expect(await store.getPolicyRevision('lab', 3)).toBeNull();

    const stale: PolicyChange = {
      putGroups: [{ name: 'ghost', displayName: 'Ghost', devices: [], rules: [] }],
      revisions: [{ displayName: 'Lab', revision: revision('lab', 2, content('c'), 'rule-add') }],
      audit: [audit('policy.stale')],
    };
    await expect(store.applyPolicyChange(stale)).rejects.toMatchObject({ code: 'stale-revision' });
    await expect(store.applyPolicyChange(stale)).rejects.toBeInstanceOf(ConflictError);
    expect(await store.listGroups()).toEqual([]);
    expect((await store.listAudit(10)).map((a) => a.action)).not.toContain('policy.stale');
    expect((await store.getNamedPolicy('lab'))!.content).toEqual(content('b'));
    await store.close();
  });

  it('policy plane: precedences are unique; assignments replace as a whole', async () => {
    const { store } = await open();
    await store.applyPolicyChange({
      putGroups: [
        { name: 'a', displayName: 'A', devices: [], rules: [] },
        { name: 'b', displayName: 'B', devices: [], rules: [] },
      ],
      revisions: [
        { displayName: 'P', revision: revision('p', 1, content('a')) },
        { displayName: 'Q', revision: revision('q', 1, content('b')) },
      ],
      assignments: { baseline: 'p', assignments: [{ policy: 'q', group: 'a', precedence: 5 }] },
      audit: [],
    });
    const twice = {
      baseline: 'p',
      assignments: [
        { policy: 'q', group: 'a', precedence: 5 },
        { policy: 'p', group: 'b', precedence: 5 },
      ],
    };
    await expect(store.applyPolicyChange({ assignments: twice, audit: [] })).rejects.toMatchObject({ code: 'key-in-use' });
    expect(await store.getAssignments()).toEqual({ baseline: 'p', assignments: [{ policy: 'q', group: 'a', precedence: 5 }] });
    await store.applyPolicyChange({ assignments: { baseline: 'q', assignments: [{ policy: 'p', group: 'b', precedence: 7 }] }, audit: [] });
    expect(await store.getAssignments()).toEqual({ baseline: 'q', assignments: [{ policy: 'p', group: 'b', precedence: 7 }] });
    await store.close();
  });

  it('policy plane: the version counter only grows, survives a restart and stays above published policies', async () => {
    const { store, reopen } = await open();
    const first = await store.allocatePolicyVersion();
    const second = await store.allocatePolicyVersion();
    expect(second).toBe(first + 1);
    const again = await reopen();
    expect(await again.allocatePolicyVersion()).toBe(second + 1);
    await again.raisePolicyFloor(50);
    expect(await again.allocatePolicyVersion()).toBe(51);
    await again.close();
    await store.close().catch(() => undefined);
  });

  it('policy plane: a revision this process wrote is read back as written (no parse), and a refused one is never read', async () => {
    const { store, reopen } = await open();
    const written = content('c');
    await store.applyPolicyChange({ revisions: [{ displayName: 'Base', revision: revision('base', 1, written) }], audit: [audit('policy.created')] });
    // The very object: the console's per-rule caches (canonical texts, sorted lists) survive the change.
    expect((await store.getNamedPolicy('base'))!.content).toBe(written);
    expect((await store.listNamedPolicies())[0]!.content).toBe(written);
    // Another revision 1 (a stale change) is refused and leaves no trace in what is read.
    await expect(
      store.applyPolicyChange({ revisions: [{ displayName: 'Base', revision: revision('base', 1, content('d')) }], audit: [audit('policy.created')] }),
    ).rejects.toBeInstanceOf(ConflictError);
    expect((await store.getNamedPolicy('base'))!.content).toBe(written);
    // Another process (or a restart) parses what was stored: equal content.
    const again = await reopen();
    expect((await again.getNamedPolicy('base'))!.content).toEqual(written);
    await again.close();
    await store.close().catch(() => undefined);
  });

  it('policy plane: signed group sets replace their stored ones, survive a restart, and the fleet record is published at its version', async () => {
    const { store, reopen } = await open();
    const signature = { alg: 'ed25519' as const, keyId: '0123456789abcdef', value: `${'A'.repeat(86)}==` };
    const bundle = (version: number, name: string) => ({
      payload: {
        kind: 'vigil.policy-bundle' as const,
        version,
        issuedAt: at,
        expiresAt: '2027-01-01T00:00:00.000Z',
        policy: { format: 'vigil-policy/1' as const, name, agent: { heartbeatSeconds: 30, statusSeconds: 60 } },
      },
      signature,
    });
    const set = (key: string, version: number, name: string) => ({
      key,
      groups: JSON.parse(key) as string[],
      bundle: bundle(version, name),
      contentDigest: `d${version}`,
      nextChangeAt: null,
    });
    const v1 = await store.allocatePolicyVersion();
    await store.savePolicySets([set('[]', v1, 'base'), set('["lab"]', v1, 'lab')], {
      version: v1,
      bundle: bundle(v1, 'base'),
      document: bundle(v1, 'base').payload.policy,
      publishedBy: 'console:policy-plane',
      publishedAt: at,
    });
    const v2 = await store.allocatePolicyVersion();
    await store.savePolicySets([{ ...set('["lab"]', v2, 'lab 2'), nextChangeAt: '2027-01-01T00:00:00.000Z' }], null);
    const again = await reopen();
    const stored = await again.listPolicySets();
    expect(stored.map((s) => [s.key, s.groups, s.bundle.payload.version, s.bundle.payload.policy.name, s.contentDigest, s.nextChangeAt])).toEqual([
      ['["lab"]', ['lab'], v2, 'lab 2', `d${v2}`, '2027-01-01T00:00:00.000Z'],
      ['[]', [], v1, 'base', `d${v1}`, null],
    ]);
    expect(stored[0]!.bundle.signature).toEqual(signature);
    expect((await again.latestPolicy())!.version).toBe(v1);
    // A writer that has the JSON texts (the publisher's canonical texts) stores them as they are: read back, the same bundle.
    const v3 = await again.allocatePolicyVersion();
    const withText = set('["lab"]', v3, 'lab 3');
    const fleet = bundle(v3, 'base 3');
    await again.savePolicySets([{ ...withText, bundleJson: canonicalJson(withText.bundle) }], {
      version: v3,
      bundle: fleet,
      document: fleet.payload.policy,
      publishedBy: 'console:policy-plane',
      publishedAt: at,
      json: { bundle: canonicalJson(fleet), document: canonicalJson(fleet.payload.policy) },
    });
    expect((await again.listPolicySets()).find((s) => s.key === '["lab"]')!.bundle).toEqual(withText.bundle);
    const latest = (await again.latestPolicy())!;
    expect(latest).toEqual({ version: v3, bundle: fleet, document: fleet.payload.policy, publishedBy: 'console:policy-plane', publishedAt: at });
    const third = await reopen();
    expect(await third.latestPolicy()).toEqual(latest);
    await third.close();
    // Versions stay above every stored one.
    expect(await again.allocatePolicyVersion()).toBe(v3 + 1);
    await again.close();
    await store.close().catch(() => undefined);
  });
}
