import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PolicyStore } from '../../src/agent/policy-store.js';
import { loadOrCreateConsoleIdentity } from '../../src/console/identity.js';
import { StationKeyService } from '../../src/console/station-keys.js';
import { openSqliteStore } from '../../src/console/store/sqlite-store.js';
import { generateEd25519KeyPair, keyId } from '../../src/shared/node/crypto.js';
import { createLogger } from '../../src/shared/node/log.js';
import { policySide } from '../helpers/policy-side.js';
import { tempDirsPerTest } from '../helpers/processes.js';

/** The station registry at the console, on real SQLite, and what a device does with the bundles it yields. */
const dir = tempDirsPerTest();
/** Closed before each test's directory goes: the store's checkpoint thread opens the file after it starts. */
const opened: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((store) => store.close()));
});

async function setup() {
  const root = dir();
  const store = openSqliteStore(join(root, 'console.db'));
  opened.push(store);
  const identity = loadOrCreateConsoleIdentity(root);
  const { plane, distribution, published } = await policySide(store, identity);
  const stations = new StationKeyService(store, distribution, createLogger('test', 'error'));
  const policies = {
    publish: async (document: typeof doc) => {
      await plane.push(null, document, 'refuse', { actor: 'admin' });
      return (await store.latestPolicy())!;
    },
    latest: () => store.latestPolicy(),
  };
  return { store, identity, policies, distribution, stations, published, root };
}
const doc = {
  format: 'vigil-policy/1' as const,
  name: 'school',
  agent: { heartbeatSeconds: 30, statusSeconds: 60 },
  usb: { verification: 'fast' as const, response: 'block' as const, allowSerials: [], treatAsRemovable: [] },
};

describe('station key registry', () => {
  it('register and revoke publish new policy versions carrying the keys; both are audited', async () => {
    const { store, policies, distribution, stations, published } = await setup();
    const a = generateEd25519KeyPair();
    const b = generateEd25519KeyPair();
    // No policy yet: the key is stored, and the first publication carries it.
    expect(await stations.register('library', a.publicKey, 'admin')).toMatchObject({
      version: null,
      deliveredTo: 0,
      station: { id: 'library', keyId: keyId(a.publicKey) },
    });
    const first = await policies.publish(doc);
    expect(first.bundle.payload.stations).toEqual({ trusted: [{ id: 'library', publicKey: a.publicKey, keyId: keyId(a.publicKey) }], revoked: [] });

    const reg = await stations.register('lab', b.publicKey, 'sm');
    expect(reg).toMatchObject({ version: 2, deliveredTo: 0 });
    const rev = await stations.revoke('lab', 'sm');
    expect(rev).toMatchObject({ version: 3, station: { revokedBy: 'sm', revokedAt: expect.any(String) } });
    expect(published).toEqual([1, 2, 3]);
    const latest = (await policies.latest())!;
    expect(latest.document).toEqual(first.document); // the same document, re-signed
    expect(latest.bundle.payload.stations!.trusted.map((s) => s.id)).toEqual(['library']);
    expect(latest.bundle.payload.stations!.revoked).toEqual([
      { id: 'lab', publicKey: b.publicKey, keyId: keyId(b.publicKey), revokedAt: rev.station.revokedAt },
    ]);
    // Renewals and ordinary pushes carry the registry too.
    expect(await distribution.renewAll()).toMatchObject({ version: 4 });
    expect((await policies.latest())!.bundle.payload.stations).toEqual(latest.bundle.payload.stations);

    const audit = (await store.listAudit(50)).filter((e) => e.action.startsWith('station.'));
    expect(audit.map((e) => [e.action, e.actor, e.target, e.detail])).toEqual([
      ['station.revoked', 'sm', 'station:lab', { keyId: keyId(b.publicKey), policyVersion: 3 }],
      ['station.registered', 'sm', 'station:lab', { keyId: keyId(b.publicKey), policyVersion: 2 }],
      ['station.registered', 'admin', 'station:library', { keyId: keyId(a.publicKey), policyVersion: null }],
    ]);
  });

  it('refuses duplicates, re-registering a revoked key, unknown and repeated revocations, changing nothing', async () => {
    const { stations, policies } = await setup();
    await policies.publish(doc);
    const a = generateEd25519KeyPair();
    await stations.register('library', a.publicKey, 'admin');
    await expect(stations.register('library', generateEd25519KeyPair().publicKey, 'admin')).rejects.toMatchObject({
      kind: 'conflict',
      message: expect.stringMatching(/already registered/),
    });
    await expect(stations.register('other', a.publicKey, 'admin')).rejects.toMatchObject({
      kind: 'conflict',
      message: expect.stringMatching(/registered as station "library"/),
    });
    await expect(stations.revoke('nope', 'admin')).rejects.toMatchObject({ kind: 'not-found' });
    await stations.revoke('library', 'admin');
    await expect(stations.revoke('library', 'admin')).rejects.toMatchObject({ kind: 'conflict', message: expect.stringMatching(/already revoked/) });
    await expect(stations.register('library-2', a.publicKey, 'admin')).rejects.toMatchObject({ kind: 'conflict', message: expect.stringMatching(/revoked/) });
    expect((await policies.latest())!.version).toBe(3);
    expect(await stations.list()).toHaveLength(1);
  });

  it('a device cannot be rolled back to a bundle that still trusted a revoked key, nor fed an edited one', async () => {
    const { identity, policies, stations } = await setup();
    await policies.publish(doc);
    const lab = generateEd25519KeyPair();
    await stations.register('lab', lab.publicKey, 'admin');
    const trustingBundle = (await policies.latest())!.bundle;
    expect(trustingBundle.payload.stations!.trusted.map((s) => s.id)).toContain('lab');
    await stations.revoke('lab', 'admin');
    const latest = (await policies.latest())!;
    const device = new PolicyStore(join(dir(), 'policy.json'), identity.publicKey);
    expect(device.offer(latest.bundle).outcome).toBe('applied');
    expect(device.offer(trustingBundle)).toMatchObject({ outcome: 'rejected', rejection: { reason: 'rollback' } });
    const edited = structuredClone(latest.bundle);
    edited.payload.version += 1;
    edited.payload.stations = { trusted: [{ id: 'lab', publicKey: lab.publicKey, keyId: keyId(lab.publicKey) }], revoked: [] };
    expect(device.offer(edited)).toMatchObject({ outcome: 'rejected', rejection: { reason: 'bad-signature' } });
    expect(device.bundle!.payload.stations!.revoked.map((s) => s.id)).toEqual(['lab']);
  });
});
