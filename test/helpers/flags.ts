import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateEd25519KeyPair, keyId, type Ed25519KeyPair } from '../../src/shared/node/crypto.js';
import { hashFiles, walkTree } from '../../src/shared/node/file-tree.js';
import { SCAN_FLAG_FILE, signScanFlag, type FlagFileEntry, type ScanFlag, type VolumeIdentity } from '../../src/shared/node/scan-flag.js';
import type { StationTrust } from '../../src/agent/usb/verify-flag.js';

/** Flags a directory as a station would, minus ClamAV: for verifier tests on any directory. */
export async function flagDirectory(
  root: string,
  opts: { key: Ed25519KeyPair; volume: VolumeIdentity; scannedAt?: Date; expiresDays?: number; stationId?: string },
): Promise<ScanFlag> {
  const walk = await walkTree(root, { exclude: new Set([SCAN_FLAG_FILE]), maxFiles: 100_000 });
  const entries: FlagFileEntry[] = walk.files.map((f) => ({ path: f.path, size: f.size, mtimeMs: f.mtimeMs, sha256: '' }));
  await hashFiles(
    root,
    entries.map((e) => e.path),
    (i, r) => {
      if ('error' in r) throw new Error(r.error);
      entries[i]!.sha256 = r.sha256;
    },
  );
  const scannedAt = opts.scannedAt ?? new Date();
  const flag = signScanFlag(
    {
      station: { id: opts.stationId ?? 'test-station', keyId: keyId(opts.key.publicKey) },
      scannedAt: scannedAt.toISOString(),
      expiresAt: new Date(scannedAt.getTime() + (opts.expiresDays ?? 7) * 86_400_000).toISOString(),
      volume: opts.volume,
      engine: { name: 'clamav', version: '1.4.6', databaseVersion: null, databaseDigest: null },
    },
    entries,
    opts.key.privateKeyPem,
    opts.key.publicKey,
  );
  writeFileSync(join(root, SCAN_FLAG_FILE), JSON.stringify(flag));
  return flag;
}

export const trustOnly = (...keys: Ed25519KeyPair[]): StationTrust => ({ stations: keys.map((k) => ({ publicKey: k.publicKey })), revokedKeyIds: [] });
export { generateEd25519KeyPair };
