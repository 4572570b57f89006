import type { NewAgentEvent } from '../../shared/events.js';
import type { Logger } from '../../shared/log.js';
import type { PolicyBundle } from '../../shared/policy.js';
import { linuxUsbPlatform } from '../platform/linux/usb.js';
import type { SessionRunner } from '../session/runner.js';
import { noticeText } from './notices.js';
import { UsbGate } from './usb-gate.js';

interface Host {
  emit(event: NewAgentEvent): void;
  readonly policyListeners: ((bundle: PolicyBundle) => void)[];
}

/**
 * Starts the USB gate inside the agent service when this device can enforce it: Linux, as
 * root, not in user mode. Windows and macOS backends (platform/win32, platform/darwin) have
 * their parsers but no watcher loop in the service yet. The gate follows each policy bundle;
 * its notices go to the session's message window when the agent controls the session.
 */
export function startUsbGate(
  host: Host,
  config: { mode: 'service' | 'user'; log: Logger; udevDataDir?: string },
  session: () => SessionRunner | null,
): UsbGate | null {
  const log = config.log.child('usb');
  if (config.mode === 'user' || process.platform !== 'linux' || process.getuid?.() !== 0) {
    log.info('usb gate not available here', { mode: config.mode, platform: process.platform });
    return null;
  }
  const gate = new UsbGate({ platform: linuxUsbPlatform({ udevDataDir: config.udevDataDir }), emit: (e) => host.emit(e), log });
  gate.onNotice((notice) => {
    const runner = session();
    if (runner) void runner.command('message', noticeText(notice)).catch((error: unknown) => log.warn('could not show the usb notice', { error }));
  });
  host.policyListeners.push((bundle) => {
    gate.apply(bundle.payload.policy.usb, bundle.payload.stations).catch((error: unknown) => log.error('usb gate could not apply the policy', { error }));
  });
  return gate;
}
