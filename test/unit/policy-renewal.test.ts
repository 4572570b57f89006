import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { deviceRecord } from '../../bench/device-record.js';
import { addTestToken } from '../helpers/console-store.js';
import { loadOrCreateConsoleIdentity } from '../../src/console/identity.js';
import { LIFETIME_SETTING } from '../../src/console/policies/lifetime.js';
import { openSqliteStore } from '../../src/console/store/sqlite-store.js';
import { checkPolicyBundle } from '../../src/shared/node/policy-verify.js';
import { policySide } from '../helpers/policy-side.js';
import { tempDirsPerTest } from '../helpers/processes.js';

const tempPath = tempDirsPerTest();
const doc = { format: 'vigil-policy/1' as const, name: 'Lab', agent: { heartbeatSeconds: 30, statusSeconds: 60 } };

describe('policy renewal and restart (real SQLite, real keys)', () => {
  it('renews every bundle before it expires: same document, new version, the lifetime the push asked for', async () => {
    const dir = tempPath();
    const store = openSqliteStore(`${dir}/console.db`);
    const identity = loadOrCreateConsoleIdentity(dir);
    const { plane, distribution } = await policySide(store, identity);
    await store.setSetting(LIFETIME_SETTING, '3');
    const pushed = await plane.push(null, doc, 'refuse', { actor: 'admin' });
    const original = (await store.latestPolicy())!;
    expect(original.version).toBe(pushed.ok && pushed.version);
    const issued = Date.parse(original.bundle.payload.issuedAt);
    expect(Date.parse(original.bundle.payload.expiresAt) - issued).toBe(3 * 86400_000);
    expect(distribution.needsRenewal(new Date(issued + 1 * 86400_000))).toBe(false);
    expect(distribution.needsRenewal(new Date(issued + 2.5 * 86400_000))).toBe(true);
    const renewed = await distribution.renewAll();
    expect(renewed.version).toBe(original.version + 1);
    const latest = (await store.latestPolicy())!;
    expect(latest.version).toBe(original.version + 1);
    expect(latest.document).toEqual(original.document);
    expect(Date.parse(latest.bundle.payload.expiresAt) - Date.parse(latest.bundle.payload.issuedAt)).toBe(3 * 86400_000);
    expect(checkPolicyBundle(latest.bundle, { trustedKey: identity.publicKey, heldVersion: original.version })).toMatchObject({ ok: true });
    distribution.stop();
    await store.close();
  });

  it('a restarted console offers the bundles it signed before, under the same versions and digests', async () => {
    const dir = tempPath();
    const identity = loadOrCreateConsoleIdentity(dir);
    let store = openSqliteStore(`${dir}/console.db`);
    await addTestToken(store);
    await store.enrollDevice(deviceRecord(randomUUID(), 'lab-1'), 'tok');
    let side = await policySide(store, identity);
    await side.plane.push(null, doc, 'refuse', { actor: 'admin' });
    await side.plane.createGroup({ name: 'lab', displayName: 'Lab', devices: [], rules: [{ kind: 'hostname', pattern: 'lab-*' }] }, { actor: 'admin' });
    await side.plane.createPolicy(
      { name: 'lab-extra', displayName: 'Lab', content: { settings: { session: { lockAfterIdleSeconds: 60 } }, rules: [] } },
      { actor: 'admin' },
    );
    const assigned = await side.plane.assign({ policy: 'lab-extra', group: 'lab', precedence: 5 }, { actor: 'admin' });
    const before = (await store.listPolicySets()).map((s) => [s.key, s.bundle.payload.version, s.bundle.signature.value]);
    expect(before).toHaveLength(2);
    side.distribution.stop();
    await store.close();

    store = openSqliteStore(`${dir}/console.db`);
    side = await policySide(store, identity);
    expect(side.published).toEqual([]);
    expect((await store.listPolicySets()).map((s) => [s.key, s.bundle.payload.version, s.bundle.signature.value])).toEqual(before);
    expect(side.distribution.currentVersion()).toBe(assigned.version);
    side.distribution.stop();
    await store.close();
  });
});
