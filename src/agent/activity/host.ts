import type { ActivityNow, PowerState } from '../../shared/activity.js';
import type { NewAgentEvent } from '../../shared/events.js';
import type { Logger } from '../../shared/node/log.js';
import type { Ownership } from '../../shared/session.js';
import type { ActivityPlatform } from '../platform/agent-platform.js';
import type { SessionObservation } from '../session/core.js';
import type { SessionTarget } from '../session/platform.js';
import { SchoolNetworkCheck } from './network.js';
import { ActivitySampler } from './sampler.js';

export interface ActivityHostOptions {
  /** The OS's window source, display server and suspend watcher. */
  platform: ActivityPlatform;
  target: SessionTarget;
  ownership: Ownership;
  /** The `activity` section of the policy held now (the sampler starts under it). */
  policy?: unknown;
  session: () => SessionObservation | null;
  emit: (event: NewAgentEvent) => void;
  sendNow: (now: ActivityNow) => void;
  sendPower: (state: PowerState) => void;
  log: Logger;
  /** Where the session's environment comes from (XDG_SESSION_TYPE, WAYLAND_DISPLAY). */
  env?: NodeJS.ProcessEnv;
}

export interface ActivityHost {
  sampler: ActivitySampler;
  stop(): void;
}

/**
 * Activity reporting for one session, hosted wherever session control runs (the agent service
 * today, told the session's display; the tray later, inside the session). Starts the sampler
 * and, where systemd-logind runs, the suspend/resume watcher for the `power` frame.
 */
export function startActivity(options: ActivityHostOptions): ActivityHost {
  const env = options.env ?? process.env;
  const sessionEnv: NodeJS.ProcessEnv = { PATH: env.PATH, LC_ALL: 'C', DISPLAY: options.target.display ?? env.DISPLAY };
  if (options.target.xauthority) sessionEnv.XAUTHORITY = options.target.xauthority;
  const displayServer = options.platform.displayServer({ ...env, DISPLAY: sessionEnv.DISPLAY });
  const sampler = new ActivitySampler({
    ownership: options.ownership,
    policy: options.policy,
    displayServer,
    createSource: options.platform.windowSource(sessionEnv),
    session: options.session,
    network: new SchoolNetworkCheck(),
    emit: options.emit,
    sendNow: options.sendNow,
    log: options.log,
  });
  sampler.start();
  const power = options.platform.sleepWatcher(options.sendPower);
  power?.start();
  options.log.info('activity reporting ready', { displayServer, ownership: options.ownership, suspendWatch: power ? 'logind' : null });
  return {
    sampler,
    stop() {
      sampler.stop();
      power?.stop();
    },
  };
}
