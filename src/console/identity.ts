import { createPrivateKey, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { generateEd25519KeyPair, keyId, publicKeyFromPrivatePem } from '../shared/node/crypto.js';
import { writeFileAtomic } from '../shared/node/files.js';

/** The console's Ed25519 signing key: signs policy bundles, commands and its side of device auth. */
export interface ConsoleIdentity {
  privateKey: KeyObject;
  publicKey: string;
  keyId: string;
  created: boolean;
}

/** Where a console data directory keeps its signing key. */
export const consoleKeyPath = (dataDir: string): string => join(dataDir, 'console-signing-key.pem');

export function loadOrCreateConsoleIdentity(dataDir: string): ConsoleIdentity {
  const path = consoleKeyPath(dataDir);
  let created = false;
  if (!existsSync(path)) {
    writeFileAtomic(path, generateEd25519KeyPair().privateKeyPem, 0o600);
    created = true;
  } else if ((statSync(path).mode & 0o077) !== 0) {
    throw new Error(`${path} is readable by other users; run: chmod 600 ${path}`);
  }
  const pem = readFileSync(path, 'utf8');
  const publicKey = publicKeyFromPrivatePem(pem);
  return { privateKey: createPrivateKey(pem), publicKey, keyId: keyId(publicKey), created };
}
