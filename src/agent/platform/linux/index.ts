import { displayServerOf } from '../../activity/display-server.js';
import { LogindSleepWatcher, logindAvailable } from '../../activity/power.js';
import { LINUX_BACKEND } from '../../exec/rule-set.js';
import { loadPeercredAddon } from '../../local-ipc/peercred.js';
import { connectTrayPipe, listenTrayPipe } from '../../local-ipc/win32-pipe.js';
import { nodeCommandRunner } from '../../session/node-runner.js';
import type { AgentPlatform } from '../agent-platform.js';
import { idUserNames } from '../id-users.js';
import { createGateBackstop, linuxExecFallback } from '../exec-fallback.js';
import { XpropWindowSource } from './activity/xprop-source.js';
import { LinuxExecGate } from './exec-gate.js';
import { knownUserName, processUser } from './proc-user.js';
import { linuxSessionPlatform } from './session/index.js';
import { linuxSessionLister } from './session/seat.js';
import { sessionXauthority } from './session/session-processes.js';
import { linuxUsbPlatform } from './usb.js';

/** Linux: fanotify gate as root, logind/utmp sessions, udev/mountinfo USB, xprop windows, SO_PEERCRED trays. */
export function linuxPlatform(): AgentPlatform {
  return {
    os: 'linux',
    runner: nodeCommandRunner,
    sessions: {
      control: (target, run) => linuxSessionPlatform(run, target),
      lister: (options) => linuxSessionLister(nodeCommandRunner(), options),
      targetForSeat(seat) {
        const xauthority = seat.display && seat.uid !== undefined ? sessionXauthority(seat.display, seat.uid) : undefined;
        return { display: seat.display, uid: seat.uid, sessionId: seat.sessionId, ...(xauthority ? { xauthority } : {}) };
      },
    },
    usb: (options) => (process.getuid?.() === 0 ? linuxUsbPlatform({ udevDataDir: options.udevDataDir }) : null),
    exec: {
      backend: LINUX_BACKEND,
      gateUnavailable: () => (process.getuid?.() !== 0 ? 'the agent is not running as root' : null),
      createGate: (options) => new LinuxExecGate(options),
      createFallback: linuxExecFallback,
      createBackstop: createGateBackstop,
    },
    activity: {
      windowSource: (env) => (detail) => new XpropWindowSource(env, detail),
      displayServer: (env) => displayServerOf(env, 'linux'),
      sleepWatcher: (onPower) => (logindAvailable() ? new LogindSleepWatcher({ onPower }) : null),
    },
    // The passwd file first (getpwuid's local answer), then NSS through `id` for directory accounts.
    users: idUserNames(nodeCommandRunner(), { local: knownUserName, processUser }),
    tray: { platform: 'linux', peercred: () => loadPeercredAddon('linux'), listenPipe: listenTrayPipe, connectPipe: connectTrayPipe },
  };
}
