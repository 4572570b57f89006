import { join } from 'node:path';
import { GetWindowsSource } from '../../activity/get-windows-source.js';
import { displayServerOf } from '../../activity/display-server.js';
import { WINDOWS_BACKEND } from '../../exec/rule-set.js';
import { loadPeercredAddon } from '../../local-ipc/peercred.js';
import { connectTrayPipe, listenTrayPipe } from '../../local-ipc/win32-pipe.js';
import { nodeCommandRunner } from '../../session/node-runner.js';
import type { AgentPlatform } from '../agent-platform.js';
import { win32ExecFallback, windowsPathVars } from '../exec-fallback.js';
import { noPreExecGate } from '../no-gate.js';
import { appLockerApplier, readAuthenticodeSigner } from './exec-control.js';
import { win32SessionLister } from './seat.js';
import { win32SessionPlatform } from './session.js';
import { win32UsbPlatform } from './usb.js';

/**
 * Windows: AppLocker before launch plus WMI polling after, WTS sessions, volume events for USB
 * (as SYSTEM), get-windows windows, a named pipe whose clients are named by their token's SID.
 * Tested on recorded outputs only (docs say so).
 */
export function win32Platform(): AgentPlatform {
  const runner = nodeCommandRunner();
  return {
    os: 'win32',
    runner: nodeCommandRunner,
    sessions: {
      control: (target, run) => win32SessionPlatform(run, target),
      lister: () => win32SessionLister(runner),
      targetForSeat: (seat) => ({ display: seat.display, uid: seat.uid, sessionId: seat.sessionId }),
    },
    usb: () => win32UsbPlatform(runner),
    exec: {
      backend: WINDOWS_BACKEND,
      gateUnavailable: () => "Vigil's own gate is Linux-only; AppLocker, applied from the policy, blocks before launch on editions that have it",
      createGate: noPreExecGate('win32'),
      createFallback: (options) => win32ExecFallback(options, runner),
      signerOf: (path) => readAuthenticodeSigner(runner, path),
      windowsVars: () => windowsPathVars(),
      preLaunch: (dataDir, log) => appLockerApplier(runner, join(dataDir, 'applocker'), log.child('applocker')),
    },
    activity: {
      windowSource: () => (detail) => new GetWindowsSource(detail),
      displayServer: (env) => displayServerOf(env, 'win32'),
      sleepWatcher: () => null,
    },
    users: {
      // No uids on Windows: a tray is named by its pipe client's token SID, processes by WMI.
      nameOf: async () => null,
      processUser: () => null,
    },
    tray: { platform: 'win32', peercred: () => loadPeercredAddon('win32'), listenPipe: listenTrayPipe, connectPipe: connectTrayPipe },
  };
}
