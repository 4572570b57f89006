import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ElectronApi } from './electron-api.js';

/**
 * Secrets the tray keeps for its user, encrypted with Electron's safeStorage (DPAPI on Windows,
 * the Keychain on macOS, the desktop keyring on Linux). On Linux without a keyring, safeStorage
 * falls back to a hard-coded password ("basic_text"): that is obfuscation, not encryption, so
 * the store refuses to work rather than pretend. (keytar is archived and not used.)
 */
export class SecretStore {
  constructor(
    private readonly safeStorage: ElectronApi['safeStorage'],
    private readonly dir: string,
  ) {}

  /** Null when secrets can be kept safely; otherwise why not. */
  unavailable(): string | null {
    if (!this.safeStorage.isEncryptionAvailable()) return 'no OS key store is available to encrypt secrets';
    const backend = this.safeStorage.getSelectedStorageBackend?.();
    if (backend === 'basic_text') return 'the only key store here is Electron\'s plain-text fallback ("basic_text"); install and unlock a desktop keyring';
    return null;
  }

  save(name: string, value: string): void {
    this.check();
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    writeFileSync(this.file(name), this.safeStorage.encryptString(value), { mode: 0o600 });
  }

  /** The secret, or null if none was saved. */
  load(name: string): string | null {
    this.check();
    let data: Buffer;
    try {
      data = readFileSync(this.file(name));
    } catch {
      return null;
    }
    return this.safeStorage.decryptString(data);
  }

  private check(): void {
    const why = this.unavailable();
    if (why) throw new Error(`cannot keep secrets safely: ${why}`);
  }

  private file(name: string): string {
    if (!/^[a-z0-9-]{1,64}$/.test(name)) throw new Error(`not a secret name: ${name}`);
    return join(this.dir, `${name}.secret`);
  }
}
