import { GetWindowsSource } from '../../activity/get-windows-source.js';
import { LINUX_BACKEND } from '../../exec/rule-set.js';
import { loadPeercredAddon } from '../../local-ipc/peercred.js';
import { connectTrayPipe, listenTrayPipe } from '../../local-ipc/win32-pipe.js';
import { nodeCommandRunner } from '../../session/node-runner.js';
import type { AgentPlatform } from '../agent-platform.js';
import { noPreExecGate } from '../no-gate.js';

/** Any other OS: the link, policy and events work; nothing is enforced, and each part says so. */
export function otherPlatform(os: NodeJS.Platform): AgentPlatform {
  return {
    os,
    runner: nodeCommandRunner,
    sessions: { control: () => null, lister: () => null, targetForSeat: (seat) => ({ display: seat.display, uid: seat.uid, sessionId: seat.sessionId }) },
    usb: () => null,
    exec: {
      backend: LINUX_BACKEND,
      gateUnavailable: () => `no pre-exec gate for ${os}`,
      createGate: noPreExecGate(os),
      createFallback: () => {
        throw new Error(`no fallback watcher for ${os}`);
      },
    },
    activity: { windowSource: () => (detail) => new GetWindowsSource(detail), displayServer: () => 'none', sleepWatcher: () => null },
    users: { nameOf: async () => null, processUser: () => null },
    tray: { platform: os, peercred: () => loadPeercredAddon(os), listenPipe: listenTrayPipe, connectPipe: connectTrayPipe },
  };
}
