import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { _electron, type ElectronApplication } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AupGateApi, AupGateDecision } from '../../src/agent/aup/gate-api.js';
import { socketPeerCredentials } from '../../src/agent/local-ipc/peercred.js';
import { TrayIpcServer } from '../../src/agent/local-ipc/server.js';
import { TrayRequests } from '../../src/agent/local-ipc/tray-requests.js';
import type { AupAcceptRequest } from '../../src/shared/aup-bridge.js';
import { createLogger } from '../../src/shared/node/log.js';
import { screenshot } from '../helpers/browser.js';
import { REPO, tempDir, waitUntil } from '../helpers/processes.js';
import { optionalSkipReason } from '../helpers/requirements.js';

/**
 * The packaged-shape tray app (dist/main/index.js) in a real Electron, driven by Playwright's
 * `_electron` (Spectron is dead). Runs only where an Electron binary exists: point
 * ELECTRON_OVERRIDE_DIST_PATH at its directory. Our machines cannot download one, so here it
 * says it skipped; main/ is unit-tested against a fake Electron (test/unit/tray-app.test.ts) and
 * every page is tested in Chromium (tray-pages, aup-page).
 */
const distPath = process.env.ELECTRON_OVERRIDE_DIST_PATH;
const executable = distPath
  ? join(distPath, process.platform === 'win32' ? 'electron.exe' : process.platform === 'darwin' ? 'Electron.app/Contents/MacOS/Electron' : 'electron')
  : null;
const skip = optionalSkipReason(
  'tray app in Electron',
  !executable
    ? 'no Electron binary (set ELECTRON_OVERRIDE_DIST_PATH to a directory holding one)'
    : !existsSync(executable)
      ? `ELECTRON_OVERRIDE_DIST_PATH has no Electron binary at ${executable}`
      : process.platform !== 'linux' || process.getuid?.() !== 0
        ? 'the tray trusts only a root service socket: run as root on Linux'
        : !existsSync(join(REPO, 'dist/main/index.js'))
          ? 'dist/ is not built (node scripts/prepare.mjs)'
          : null,
);

describe.skipIf(skip)('tray app in Electron', () => {
  let dir: ReturnType<typeof tempDir>;
  let server: TrayIpcServer;
  let app: ElectronApplication;
  const gateCalls: string[] = [];
  let accepted = false;
  const page = {
    variant: 'secondary' as const,
    version: 1,
    aupHash: 'a'.repeat(64),
    title: 'Acceptable use',
    markdown: '## Be kind\n\nShort rules.',
    school: 'Hillside',
    user: 'root',
    offline: false,
  };
  const gate: AupGateApi = {
    decide: async (): Promise<AupGateDecision> => (accepted ? { needed: false, reason: 'accepted-here' } : { needed: true, reason: 'not-accepted', page }),
    accept: async (user: string, request: AupAcceptRequest) => (gateCalls.push(`accept:${user}:${request.typedName}`), (accepted = true), { ok: true }),
    decline: async (user: string) => (gateCalls.push(`decline:${user}`), { ok: true }),
  };

  beforeAll(async () => {
    dir = tempDir();
    const path = join(dir.path, 'run', 'tray.sock');
    const requests = new TrayRequests({
      mode: 'service',
      sessionUid: () => 0,
      consoleConnected: () => true,
      policyVersion: () => 1,
      monitoring: () => ({ appControl: null, idleLockSeconds: 300, activity: null, usbControl: false }),
      aupGate: () => gate,
      emit: () => undefined,
      lock: null,
      watch: null,
    });
    server = new TrayIpcServer({
      path,
      handler: requests,
      credentialsOf: socketPeerCredentials,
      userName: () => 'root',
      log: createLogger('electron-e2e', 'error'),
    });
    await server.listen();
    app = await _electron.launch({ executablePath: executable!, args: ['--no-sandbox', REPO], env: { ...process.env, VIGIL_TRAY_SOCKET: path } });
  });
  afterAll(async () => {
    await app?.close();
    await server?.close();
    dir?.remove();
  });

  it('shows the AUP in a kiosk window that cannot be closed, from the page scheme, sandboxed', async () => {
    const window = await app.firstWindow();
    await window.waitForSelector('#aup[aria-busy="false"]');
    expect(window.url()).toBe('vigil-app://pages/aup/index.html');
    const props = await app.evaluate(({ BrowserWindow }) => {
      const w = BrowserWindow.getAllWindows()[0]!;
      const prefs = w.webContents.getLastWebPreferences()!;
      return {
        kiosk: w.isKiosk(),
        top: w.isAlwaysOnTop(),
        closable: w.isClosable(),
        minimizable: w.isMinimizable(),
        sandbox: prefs.sandbox,
        isolation: prefs.contextIsolation,
        node: prefs.nodeIntegration,
      };
    });
    expect(props).toEqual({ kiosk: true, top: true, closable: false, minimizable: false, sandbox: true, isolation: true, node: false });
    expect(await window.evaluate(() => typeof (window as any).require + typeof (window as any).process + typeof (window as any).vigilTray)).toBe(
      'undefinedundefinedundefined',
    );
    await window.evaluate(() => (location.href = 'https://example.com/'));
    await new Promise((r) => setTimeout(r, 500));
    expect(window.url()).toBe('vigil-app://pages/aup/index.html');
    await app.evaluate(({ BrowserWindow }) => BrowserWindow.getAllWindows()[0]!.close());
    expect(await app.evaluate(({ BrowserWindow }) => BrowserWindow.getAllWindows().length)).toBe(1);
    await screenshot(window, 'tray-electron-aup');
  });

  it('accepting through the real page reaches the service, and the gate goes away', async () => {
    const window = await app.firstWindow();
    await window.locator('#document').evaluate((el) => el.scrollTo(0, el.scrollHeight));
    await window.fill('#typed-name', 'Jamie Smith');
    await window.check('#agree-tick');
    await window.click('#accept');
    await waitUntil(() => gateCalls.includes('accept:root:Jamie Smith'));
    await waitUntil(async () => (await app.evaluate(({ BrowserWindow }) => BrowserWindow.getAllWindows().length)) === 0, 10_000);
  });
});
