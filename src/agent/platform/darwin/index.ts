import { GetWindowsSource } from '../../activity/get-windows-source.js';
import { displayServerOf } from '../../activity/display-server.js';
import { DARWIN_BACKEND } from '../../exec/rule-set.js';
import { loadPeercredAddon } from '../../local-ipc/peercred.js';
import { connectTrayPipe, listenTrayPipe } from '../../local-ipc/win32-pipe.js';
import { nodeCommandRunner } from '../../session/node-runner.js';
import type { AgentPlatform } from '../agent-platform.js';
import { darwinExecFallback } from '../exec-fallback.js';
import { readCodesignSigner } from './exec-control.js';
import { noPreExecGate } from '../no-gate.js';
import { darwinSessionLister } from './seat.js';
import { darwinSessionPlatform } from './session.js';
import { darwinUsbPlatform } from './usb.js';
import { idUserNames } from '../id-users.js';

/**
 * macOS: ps-polling exec fallback (Endpoint Security needs an Apple entitlement), console-user
 * sessions, diskutil USB as root, get-windows windows, getpeereid trays, Open Directory names.
 * Tested on recorded outputs only (docs say so).
 */
export function darwinPlatform(): AgentPlatform {
  const runner = nodeCommandRunner();
  const users = idUserNames(runner);
  return {
    os: 'darwin',
    runner: nodeCommandRunner,
    sessions: {
      control: (target, run) => darwinSessionPlatform(run, target),
      lister: () => darwinSessionLister(runner),
      targetForSeat: (seat) => ({ display: seat.display, uid: seat.uid, sessionId: seat.sessionId }),
    },
    usb: () => (process.getuid?.() === 0 ? darwinUsbPlatform(runner) : null),
    exec: {
      backend: DARWIN_BACKEND,
      gateUnavailable: () => 'Endpoint Security needs an Apple-granted entitlement',
      createGate: noPreExecGate('darwin'),
      createFallback: (options) => darwinExecFallback(options, runner, (uid) => users.nameOf(uid)),
      signerOf: (path) => readCodesignSigner(runner, path),
    },
    activity: {
      windowSource: () => (detail) => new GetWindowsSource(detail),
      displayServer: (env) => displayServerOf(env, 'darwin'),
      sleepWatcher: () => null,
    },
    users,
    tray: { platform: 'darwin', peercred: () => loadPeercredAddon('darwin'), listenPipe: listenTrayPipe, connectPipe: connectTrayPipe },
  };
}
