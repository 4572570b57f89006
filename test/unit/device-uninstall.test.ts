import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { acceptUninstallNotice } from '../../src/console/device-uninstall.js';
import { openSqliteStore, type SqliteStore } from '../../src/console/store/sqlite-store.js';
import type { DeviceRecord } from '../../src/console/store/store.js';
import type { UninstallNotice } from '../../src/shared/api.js';
import { generateEd25519KeyPair } from '../../src/shared/node/crypto.js';
import { createLogger } from '../../src/shared/node/log.js';
import { signPayload } from '../../src/shared/node/signing.js';
import { tempDirsPerTest } from '../helpers/processes.js';

/** The console's side of "this device is being uninstalled", against a real SQLite store. */
const tempPath = tempDirsPerTest();
const stores: SqliteStore[] = [];
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
});

async function enrolledDevice() {
  const store = openSqliteStore(tempPath('console.db'));
  stores.push(store);
  await store.createEnrollToken({
    id: 'tok',
    tokenHash: 'h',
    label: 'test',
    createdBy: 'admin',
    createdAt: '',
    expiresAt: '2099-01-01T00:00:00Z',
    maxUses: null,
    uses: 0,
    revoked: false,
  });
  const key = generateEd25519KeyPair();
  const device: DeviceRecord = {
    id: randomUUID(),
    publicKey: key.publicKey,
    hostname: 'lab-07',
    platform: 'linux',
    machineIdHint: null,
    enrolledAt: new Date().toISOString(),
    enrolledWith: 'tok',
    revoked: false,
    cloneSuspect: false,
    online: true,
    lastSeenAt: null,
    agentVersion: null,
    policyVersion: null,
    status: null,
  };
  await store.enrollDevice(device, 'tok');
  const disconnected: string[] = [];
  const deps = { store, disconnect: (id: string) => void disconnected.push(id), log: createLogger('test', 'error') };
  const notice = (over: Partial<UninstallNotice['payload']> = {}, signer = key): UninstallNotice => {
    const payload = { deviceId: device.id, reason: 'package-removed' as const, sentAt: new Date().toISOString(), ...over };
    return { payload, signature: signPayload('uninstall', payload, signer.privateKeyPem, signer.publicKey) };
  };
  const uninstallAudits = async () => (await store.listAudit(100)).filter((a) => a.action === 'device.uninstalled');
  return { store, device, deps, notice, disconnected, uninstallAudits };
}

type Ctx = Awaited<ReturnType<typeof enrolledDevice>>;

describe('uninstall notice', () => {
  it('revokes the device, disconnects it and audits it once; a replay changes nothing', async () => {
    const { store, device, deps, notice, disconnected, uninstallAudits } = await enrolledDevice();
    const signed = notice();
    expect(await acceptUninstallNotice(deps, device.id, signed, '10.0.0.7')).toEqual({ revoked: true, changed: true });
    expect((await store.getDevice(device.id))?.revoked).toBe(true);
    expect(disconnected).toEqual([device.id]);
    expect(await uninstallAudits()).toEqual([
      expect.objectContaining({ actor: `device:${device.id}`, target: device.id, detail: { hostname: 'lab-07', reason: 'package-removed', ip: '10.0.0.7' } }),
    ]);
    expect(await acceptUninstallNotice(deps, device.id, signed, '10.0.0.7')).toEqual({ revoked: true, changed: false });
    expect(await uninstallAudits()).toHaveLength(1);
  });

  it.each([
    ['signed by another key', (n: Ctx) => n.notice({}, generateEd25519KeyPair()), 401, 'bad-signature'],
    ['an hour old', (n: Ctx) => n.notice({ sentAt: new Date(Date.now() - 3600_000).toISOString() }), 400, 'stale-request'],
    ['for another device than the URL', (n: Ctx) => n.notice({ deviceId: randomUUID() }), 400, 'invalid-request'],
  ])('refuses a notice %s and changes nothing', async (_label, make, status, code) => {
    const ctx = await enrolledDevice();
    await expect(acceptUninstallNotice(ctx.deps, ctx.device.id, make(ctx), '10.0.0.7')).rejects.toMatchObject({ status, code });
    expect((await ctx.store.getDevice(ctx.device.id))?.revoked).toBe(false);
    expect(ctx.disconnected).toEqual([]);
    expect(await ctx.uninstallAudits()).toEqual([]);
  });

  it('answers 404 for a device the console does not know', async () => {
    const { deps, notice } = await enrolledDevice();
    const stranger = randomUUID();
    await expect(acceptUninstallNotice(deps, stranger, notice({ deviceId: stranger }), '10.0.0.7')).rejects.toMatchObject({ status: 404 });
  });
});
