import { existsSync, readFileSync, statSync } from 'node:fs';
import { homedir, hostname } from 'node:os';
import { join } from 'node:path';
import { generateEd25519KeyPair, keyId, publicKeyFromPrivatePem } from '../shared/node/crypto.js';
import { writeFileAtomic } from '../shared/node/files.js';

/** The scan station's signing key: made on first use, kept 0600, never leaves the station. */
export interface StationKey {
  path: string;
  privateKeyPem: string;
  publicKey: string;
  keyId: string;
  created: boolean;
}

export class StationKeyError extends Error {}

export function defaultStationKeyPath(): string {
  const dir = process.env.VIGIL_STATION_DIR ?? (process.getuid?.() === 0 ? '/var/lib/vigil-station' : join(homedir(), '.local/share/vigil-station'));
  return join(dir, 'station-key.pem');
}

export function loadOrCreateStationKey(path: string): StationKey {
  if (!existsSync(path)) {
    const pair = generateEd25519KeyPair();
    writeFileAtomic(path, pair.privateKeyPem, 0o600);
    return { path, privateKeyPem: pair.privateKeyPem, publicKey: pair.publicKey, keyId: keyId(pair.publicKey), created: true };
  }
  // A signing key others can read is a key anyone on the station could forge flags with.
  if ((statSync(path).mode & 0o077) !== 0) throw new StationKeyError(`${path} is readable by other users; chmod 600 it first`);
  try {
    const privateKeyPem = readFileSync(path, 'utf8');
    const publicKey = publicKeyFromPrivatePem(privateKeyPem);
    return { path, privateKeyPem, publicKey, keyId: keyId(publicKey), created: false };
  } catch (error) {
    throw new StationKeyError(`${path} is not an Ed25519 private key (${(error as Error).message.split('\n')[0]})`);
  }
}

/** Default station id: the host name, reduced to the characters a flag allows. */
export function defaultStationId(): string {
  return (
    hostname()
      .replace(/[^A-Za-z0-9._-]/g, '-')
      .slice(0, 64) || 'scan-station'
  );
}
