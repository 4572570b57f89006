import { existsSync } from 'node:fs';
import { consoleKeyPath, loadOrCreateConsoleIdentity, type ConsoleIdentity } from './identity.js';
import type { SettingsStore } from './store/store.js';

const KEY_ID_SETTING = 'console.key-id';

/**
 * Several console processes on one database answer the same devices, which pinned one console
 * key at enrollment: every process must sign with that key. The first process records its key id
 * in the database; a process whose data directory lacks the key, or holds another, is refused
 * rather than signing for the fleet with a key its devices would reject.
 */
export async function loadSharedConsoleIdentity(store: SettingsStore, dataDir: string): Promise<ConsoleIdentity> {
  const recorded = await store.getSetting(KEY_ID_SETTING);
  const path = consoleKeyPath(dataDir);
  if (recorded && !existsSync(path)) {
    throw new Error(
      `this database belongs to consoles signing with key ${recorded}: copy console-signing-key.pem (mode 0600) from another console's data directory to ${path}`,
    );
  }
  const identity = loadOrCreateConsoleIdentity(dataDir);
  if (recorded && recorded !== identity.keyId) {
    throw new Error(`${path} holds key ${identity.keyId}, but this database's consoles sign with ${recorded}: use their console-signing-key.pem`);
  }
  if (!recorded) await store.setSetting(KEY_ID_SETTING, identity.keyId);
  return identity;
}
