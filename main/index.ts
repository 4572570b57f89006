// The tray app's entry point (package.json "main"; Electron loads it as an ES module).
// Everything Electron-facing goes through ElectronApi, so the wiring below is the only
// untested-by-unit-test code: main/tray-app.ts holds the logic (test/unit/tray-app.test.ts).
import * as electron from 'electron';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TRAY_SOCKET_PATH } from '../src/shared/local-ipc.js';
import { createLogger } from '../src/shared/node/log.js';
import type { ElectronApi } from './electron-api.js';
import { SocketServiceConnection, type ServiceConnection } from './service-connection.js';
import { registerPageScheme, TrayApp } from './tray-app.js';
import { startUserMode } from './user-mode.js';

const api: ElectronApi = electron;
const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));
const log = createLogger('tray');
const userMode = process.argv.includes('--user-mode');

registerPageScheme(api);

async function main(): Promise<void> {
  let service: ServiceConnection;
  if (userMode) {
    await api.app.whenReady();
    service = await startUserMode({ electron: api, dataDir: join(homedir(), '.local/share/vigil-agent'), log });
  } else {
    service = new SocketServiceConnection({ path: process.env.VIGIL_TRAY_SOCKET ?? TRAY_SOCKET_PATH, trayVersion: api.app.getVersion() });
  }
  await TrayApp.start({
    electron: api,
    service,
    pagesRoot: here('../renderer/'),
    preloadPath: here('./preload.cjs'),
    icons: {
      connected: here('../renderer/icons/connected.png'),
      offline: here('../renderer/icons/offline.png'),
      'action-needed': here('../renderer/icons/action-needed.png'),
    },
    trayVersion: api.app.getVersion(),
    userMode,
    log,
  });
}

main().catch((error: unknown) => {
  log.error('the tray could not start', { error });
  api.app.quit();
});
