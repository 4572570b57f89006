import { describe, expect, it } from 'vitest';
import { loadOrCreateConsoleIdentity } from '../../src/console/identity.js';
import { PolicyService } from '../../src/console/policies.js';
import { openSqliteStore } from '../../src/console/store/sqlite-store.js';
import { checkPolicyBundle } from '../../src/shared/node/policy-verify.js';
import { tempDirsPerTest } from '../helpers/processes.js';

const tempPath = tempDirsPerTest();
const doc = { format: 'vigil-policy/1' as const, name: 'Lab', agent: { heartbeatSeconds: 30, statusSeconds: 60 } };

function setUp() {
  const dir = tempPath();
  const store = openSqliteStore(`${dir}/console.db`);
  const identity = loadOrCreateConsoleIdentity(dir);
  return { store, identity, service: new PolicyService(store, identity) };
}

describe('PolicyService (real SQLite, real keys)', () => {
  it('publishes signed bundles with increasing versions that devices accept', async () => {
    const { store, identity, service } = setUp();
    const first = await service.publish(doc, 'admin', 30);
    const second = await service.publish({ ...doc, name: 'Lab 2' }, 'sysman', 30);
    expect([first.version, second.version]).toEqual([1, 2]);
    expect(checkPolicyBundle(second.bundle, { trustedKey: identity.publicKey, heldVersion: 1 })).toMatchObject({ ok: true });
    expect((await store.listAudit(10)).map((a) => [a.actor, a.action])).toContainEqual(['sysman', 'policy.published']);
    await store.close();
  });

  it('renews the policy before it expires: same document, new version, same lifetime', async () => {
    const { store, service } = setUp();
    const original = await service.publish(doc, 'admin', 3);
    const issued = Date.parse(original.bundle.payload.issuedAt);
    expect(await service.needsRenewal(issued + 1 * 86400_000)).toBe(false);
    expect(await service.needsRenewal(issued + 2.5 * 86400_000)).toBe(true);
    const renewed = (await service.reissue('renewal'))!;
    expect(renewed.version).toBe(original.version + 1);
    expect(renewed.document).toEqual(original.document);
    const lifetime = Date.parse(renewed.bundle.payload.expiresAt) - Date.parse(renewed.bundle.payload.issuedAt);
    expect(lifetime).toBe(3 * 86400_000);
    expect(renewed.publishedBy).toBe('console:renewal');
    await store.close();
  });
});
