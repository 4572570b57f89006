import { createPrivateKey, randomUUID, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { Base64PublicKey } from '../shared/signed.js';
import { generateEd25519KeyPair, publicKeyFromPrivatePem } from '../shared/node/crypto.js';
import { writeFileAtomic } from '../shared/node/files.js';
import { UuidSchema } from '../shared/text.js';

/**
 * The device's identity is a key pair it generated itself, kept in an admin-only file.
 * The device id is chosen with the key and never changes; the console knows the device by it.
 */
export const DeviceFileSchema = z.strictObject({
  deviceId: UuidSchema,
  consoleUrl: z.url(),
  consolePublicKey: Base64PublicKey,
  enrolledAt: z.iso.datetime(),
});
export type DeviceFile = z.infer<typeof DeviceFileSchema>;

const PendingSchema = z.strictObject({ deviceId: UuidSchema });

export interface DeviceKey {
  deviceId: string;
  privateKey: KeyObject;
  publicKey: string;
}

export function paths(dataDir: string) {
  return {
    key: join(dataDir, 'device-key.pem'),
    pending: join(dataDir, 'device-id.json'),
    device: join(dataDir, 'device.json'),
    policy: join(dataDir, 'policy.json'),
    aup: join(dataDir, 'aup.json'),
    aupAcceptances: join(dataDir, 'aup-acceptances.db'),
    outbox: join(dataDir, 'outbox.db'),
    commandsSeen: join(dataDir, 'commands-seen.json'),
  };
}

/** Loads the key pair and id, creating them on first use (before enrollment). */
export function loadOrCreateDeviceKey(dataDir: string): DeviceKey {
  const p = paths(dataDir);
  // The id is written before the key; an id without a key (a crash in between) is simply
  // re-generated, since nothing can have been enrolled without the key.
  if (!existsSync(p.key)) {
    writeFileAtomic(p.pending, JSON.stringify({ deviceId: randomUUID() }), 0o600);
    writeFileAtomic(p.key, generateEd25519KeyPair().privateKeyPem, 0o600);
  }
  if ((statSync(p.key).mode & 0o077) !== 0) throw new Error(`${p.key} is readable by other users; run: chmod 600 ${p.key}`);
  const pem = readFileSync(p.key, 'utf8');
  const { deviceId } = PendingSchema.parse(JSON.parse(readFileSync(p.pending, 'utf8')));
  return { deviceId, privateKey: createPrivateKey(pem), publicKey: publicKeyFromPrivatePem(pem) };
}

export function readDeviceFile(dataDir: string): DeviceFile | null {
  const path = paths(dataDir).device;
  if (!existsSync(path)) return null;
  const parsed = DeviceFileSchema.safeParse(JSON.parse(readFileSync(path, 'utf8')));
  if (!parsed.success) throw new Error(`${path} is damaged; re-enroll the device (remove ${dataDir} and run the agent with an enrollment token)`);
  return parsed.data;
}

export function writeDeviceFile(dataDir: string, file: DeviceFile): void {
  writeFileAtomic(paths(dataDir).device, JSON.stringify(file, null, 2), 0o600);
}
