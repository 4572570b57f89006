import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { deviceRecord } from '../../bench/device-record.js';
import { addTestToken, enrollTestDevices } from '../helpers/console-store.js';
import { EventRouter } from '../../src/console/agent-link/event-router.js';
import { newAgentLinkStats } from '../../src/console/agent-link/stats.js';
import { composePolicy } from '../../src/console/policies/compose.js';
import { createLogger } from '../../src/shared/node/log.js';
import { POLICY_FETCH_CAPABILITY } from '../../src/shared/policies/delivery.js';
import { PROTOCOL_VERSION } from '../../src/shared/protocol.js';
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

  it('tells devices of a change before it stores the signed sets; stopped in between, the console signs the change again, higher, when it starts', async () => {
    const dir = tempPath();
    const identity = loadOrCreateConsoleIdentity(dir);
    let store = openSqliteStore(`${dir}/console.db`);
    const [device] = await enrollTestDevices(store, ['lab-1']);
    const steps: string[] = [];
    let storing = true;
    const saveSets = store.savePolicySets.bind(store);
    store.savePolicySets = async (...args) => {
      if (!storing) throw new Error('the console stopped');
      steps.push('stored');
      return saveSets(...args);
    };
    const told: number[] = [];
    const hub = {
      sendTo: (_: string, notice: { version: number }) => (steps.push('told'), told.push(notice.version), true),
      sendText: () => false,
      broadcastAup: async () => 0,
    };
    const log = createLogger('test', 'error');
    const side = await composePolicy({ store, identity, hub, feed: { publish: () => undefined }, log });
    const router = new EventRouter(newAgentLinkStats(), log);
    side.distribution.register(router);
    const hello = { v: PROTOCOL_VERSION, type: 'hello', agentVersion: 't', policyVersion: null, policyDigest: null, mode: 'service', capabilities: [POLICY_FETCH_CAPABILITY] };
    await router.dispatch({ deviceId: device!.id, receivedAt: new Date().toISOString(), reply: () => true }, hello as never);
    steps.length = 0;
    await side.plane.push(null, doc, 'refuse', { actor: 'admin' });
    expect(steps).toEqual(['told', 'stored']);

    // The next change is told, and the console stops before its sets are stored.
    storing = false;
    await expect(side.plane.push(null, { ...doc, name: 'Lab 2' }, 'refuse', { actor: 'admin' })).rejects.toThrow('the console stopped');
    const toldVersion = told.at(-1)!;
    expect((await store.listPolicySets()).every((s) => s.bundle.payload.version < toldVersion)).toBe(true);
    side.distribution.stop();
    await store.close();

    store = openSqliteStore(`${dir}/console.db`);
    const restarted = await policySide(store, identity);
    const offered = await restarted.distribution.bundleFor(device!.id);
    expect(offered?.payload.policy.name).toBe('Lab 2');
    expect(offered!.version).toBeGreaterThan(toldVersion);
    expect(checkPolicyBundle({ payload: offered!.payload, signature: offered!.signature }, { trustedKey: identity.publicKey, heldVersion: toldVersion })).toMatchObject({
      ok: true,
    });
    restarted.distribution.stop();
    await store.close();
  });
});
