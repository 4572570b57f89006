import type { NewAgentEvent } from '../../shared/events.js';
import type { Logger } from '../../shared/log.js';
import type { PolicyBundle } from '../../shared/policy.js';
import { darwinUsbPlatform } from '../platform/darwin/usb.js';
import { linuxUsbPlatform } from '../platform/linux/usb.js';
import { win32UsbPlatform } from '../platform/win32/usb.js';
import { nodeCommandRunner } from '../session/node-runner.js';
import type { UsbPlatform } from './drives.js';
import type { SessionRunner } from '../session/runner.js';
import { noticeText } from './notices.js';
import { UsbGate } from './usb-gate.js';

interface Host {
  emit(event: NewAgentEvent): void;
  readonly policyListeners: ((bundle: PolicyBundle) => void)[];
}

/**
 * Linux as root; macOS as root; Windows as the service (SYSTEM). The Windows and macOS
 * backends are tested on recorded outputs only (docs/usb.md).
 */
function usbPlatformFor(os: NodeJS.Platform, config: { udevDataDir?: string }): UsbPlatform | null {
  const root = process.getuid?.() === 0;
  if (os === 'linux' && root) return linuxUsbPlatform({ udevDataDir: config.udevDataDir });
  if (os === 'darwin' && root) return darwinUsbPlatform(nodeCommandRunner());
  if (os === 'win32') return win32UsbPlatform(nodeCommandRunner());
  return null;
}

/**
 * Starts the USB gate inside the agent service when this device can enforce it (not in user
 * mode: unmounting needs administrator rights). The gate follows each policy bundle; its
 * notices go to the session's message window when the agent controls the session.
 */
export function startUsbGate(
  host: Host,
  config: { mode: 'service' | 'user'; log: Logger; udevDataDir?: string },
  session: () => Pick<SessionRunner, 'command'> | null,
  platform: UsbPlatform | null = usbPlatformFor(process.platform, config),
): UsbGate | null {
  const log = config.log.child('usb');
  if (config.mode === 'user' || !platform) {
    log.info('usb gate not available here', { mode: config.mode, platform: process.platform });
    return null;
  }
  const gate = new UsbGate({ platform, emit: (e) => host.emit(e), log });
  gate.onNotice((notice) => {
    const runner = session();
    if (runner) void runner.command('message', noticeText(notice)).catch((error: unknown) => log.warn('could not show the usb notice', { error }));
  });
  host.policyListeners.push((bundle) => {
    gate.apply(bundle.payload.policy.usb, bundle.payload.stations).catch((error: unknown) => log.error('usb gate could not apply the policy', { error }));
  });
  return gate;
}
