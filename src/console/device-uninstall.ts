import type { UninstallNotice } from '../shared/api.js';
import type { Logger } from '../shared/node/log.js';
import { verifyPayload } from '../shared/node/signing.js';
import { HttpError } from './http/http-error.js';
import type { ConsoleStore } from './store/store.js';

/** How far the notice's clock may be from ours (the same window enrollment allows). */
const MAX_CLOCK_SKEW_MS = 15 * 60_000;

/**
 * A device's removal script says the package is being removed. Only the device key can say so;
 * the console then revokes the device (its key can never connect again) and audits who said it.
 * A second notice, or a replay, finds the device already revoked and changes nothing.
 */
export async function acceptUninstallNotice(
  deps: { store: ConsoleStore; disconnect: (deviceId: string) => void; log: Logger },
  pathDeviceId: string,
  notice: UninstallNotice,
  ip: string,
): Promise<{ revoked: true; changed: boolean }> {
  const { payload } = notice;
  if (payload.deviceId !== pathDeviceId) throw new HttpError(400, 'invalid-request', 'the notice names a different device than the URL');
  const device = await deps.store.getDevice(payload.deviceId);
  if (!device) throw new HttpError(404, 'not-found', 'no such device');
  if (!verifyPayload('uninstall', payload, notice.signature, device.publicKey)) {
    deps.log.warn('uninstall notice with a bad signature refused', { deviceId: device.id, ip });
    throw new HttpError(401, 'bad-signature', 'the notice is not signed by this device');
  }
  if (device.revoked) return { revoked: true, changed: false };
  if (Math.abs(Date.parse(payload.sentAt) - Date.now()) > MAX_CLOCK_SKEW_MS) {
    throw new HttpError(400, 'stale-request', 'the notice is too old or the device clock is wrong');
  }
  const changed = await deps.store.revokeDevice(device.id);
  deps.disconnect(device.id);
  if (changed) {
    await deps.store.appendAudit({
      at: new Date().toISOString(),
      actor: `device:${device.id}`,
      action: 'device.uninstalled',
      target: device.id,
      detail: { hostname: device.hostname, reason: payload.reason, ip },
    });
    deps.log.info('device uninstalled; revoked', { deviceId: device.id, hostname: device.hostname });
  }
  return { revoked: true, changed };
}
