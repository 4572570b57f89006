import type { Logger } from '../../shared/node/log.js';
import type { ExecAction } from '../../shared/exec.js';
import { AppControl } from '../app-control.js';
import type { AgentPlatform } from '../platform/agent-platform.js';
import type { PolicyBus } from '../policy-bus.js';
import type { EventSink } from './event-pump.js';

/**
 * Application control with this OS's parts: the pre-exec gate where one can run (Linux as root),
 * the fallback watcher elsewhere, Windows AppLocker before launch. It follows the policy bus.
 */
export function createAppControl(deps: {
  platform: AgentPlatform;
  mode: 'service' | 'user';
  deviceId: string;
  dataDir: string;
  execMarks: string[];
  onTimeout: ExecAction;
  bus: PolicyBus;
  sink: EventSink;
  log: Logger;
}): AppControl {
  const exec = deps.platform.exec;
  const unavailable = deps.mode === 'user' ? 'user mode (no administrator rights): programs cannot be checked before they start' : exec.gateUnavailable();
  const appControl = new AppControl({
    deviceId: deps.deviceId,
    configMarks: deps.execMarks,
    onTimeout: deps.onTimeout,
    unavailable,
    createGate: exec.createGate,
    createFallback: exec.createFallback,
    ...(exec.createBackstop ? { createBackstop: exec.createBackstop } : {}),
    backend: exec.backend,
    ...(exec.windowsVars ? { windowsVars: exec.windowsVars() } : {}),
    ...(exec.preLaunch && deps.mode === 'service' ? { preLaunch: exec.preLaunch(deps.dataDir, deps.log) } : {}),
    userOf: (pid) => deps.platform.users.processUser(pid),
    emit: (event) => deps.sink.emit(event),
    log: deps.log.child('app-control'),
  });
  deps.bus.subscribe((bundle) => appControl.apply(bundle.payload.policy));
  return appControl;
}
