import { startAgent } from '../src/agent/service.js';
import type { Logger } from '../src/shared/node/log.js';
import type { ElectronApi } from './electron-api.js';
import { InProcessServiceConnection } from './in-process-connection.js';
import { SecretStore } from './secret-store.js';

/**
 * BYOD without admin rights: the agent service core runs inside the tray, as the user, with
 * what the OS allows a user (no pre-exec gate; see docs/tray.md). The enrollment token, given
 * once in VIGIL_ENROLL_TOKEN, is kept with safeStorage until enrollment has used it.
 */
export async function startUserMode(options: { electron: ElectronApi; dataDir: string; log: Logger }): Promise<InProcessServiceConnection> {
  const secrets = new SecretStore(options.electron.safeStorage, `${options.dataDir}/secrets`);
  let enrollToken = process.env.VIGIL_ENROLL_TOKEN;
  if (!secrets.unavailable()) {
    if (enrollToken) secrets.save('enroll-token', enrollToken);
    else enrollToken = secrets.load('enroll-token') ?? undefined;
  } else if (enrollToken) {
    options.log.warn(`the enrollment token is not saved: ${secrets.unavailable()}`);
  }
  const uid = process.getuid?.();
  const service = await startAgent({
    dataDir: options.dataDir,
    consoleUrl: process.env.VIGIL_CONSOLE_URL,
    enrollToken,
    pinnedConsoleKey: process.env.VIGIL_CONSOLE_KEY,
    mode: 'user',
    log: options.log.child('service'),
    session: { ownership: 'byod', target: { display: process.env.DISPLAY, uid, xauthority: process.env.XAUTHORITY } },
    trayIpc: { path: null },
  });
  // User mode always runs the in-process tray IPC (trayIpc above).
  if (!service.trayIpc) throw new Error('user mode started without its tray IPC');
  return new InProcessServiceConnection(service.trayIpc);
}
