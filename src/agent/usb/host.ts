import type { NewAgentEvent } from '../../shared/events.js';
import type { Logger } from '../../shared/node/log.js';
import type { PolicyBus } from '../policy-bus.js';
import type { SessionRunner } from '../session/runner.js';
import type { UsbPlatform } from './drives.js';
import { noticeText } from './notices.js';
import { UsbGate } from './usb-gate.js';

export interface UsbGateHost {
  emit(event: NewAgentEvent): void;
  readonly policies: Pick<PolicyBus, 'subscribe'>;
  /** The session the agent controls now, whose message window shows the pupil's notices. */
  session(): Pick<SessionRunner, 'command'> | null;
}

/**
 * The USB gate inside the agent service when this device can enforce it (not in user mode:
 * unmounting needs administrator rights; `platform` is null where the OS backends cannot run —
 * Linux and macOS as root, Windows as SYSTEM). The gate follows each policy bundle; its notices go
 * to the session's message window when the agent controls the session.
 */
export function createUsbGate(host: UsbGateHost, config: { mode: 'service' | 'user'; log: Logger; os: string }, platform: UsbPlatform | null): UsbGate | null {
  const log = config.log.child('usb');
  if (config.mode === 'user' || !platform) {
    log.info('usb gate not available here', { mode: config.mode, platform: config.os });
    return null;
  }
  const gate = new UsbGate({ platform, emit: (e) => host.emit(e), log });
  gate.onNotice((notice) => {
    const runner = host.session();
    if (runner) void runner.command('message', noticeText(notice)).catch((error: unknown) => log.warn('could not show the usb notice', { error }));
  });
  host.policies.subscribe((bundle) => {
    gate.apply(bundle.payload.policy.usb, bundle.payload.stations).catch((error: unknown) => log.error('usb gate could not apply the policy', { error }));
  });
  return gate;
}
