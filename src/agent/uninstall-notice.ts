import { existsSync } from 'node:fs';
import { UninstallResponseSchema, type UninstallNotice } from '../shared/api.js';
import { describeFetchError } from '../shared/fetch-error.js';
import { signPayload } from '../shared/node/signing.js';
import { summariseZodError } from '../shared/zod-errors.js';
import { loadOrCreateDeviceKey, paths, readDeviceFile } from './identity.js';

export class UninstallNoticeError extends Error {}

/**
 * Tells the console this device's package is being removed, signed with the device key, so the
 * console revokes the device instead of showing it as merely offline forever. `sent` is false
 * when the device was never enrolled (nothing to tell).
 */
export async function sendUninstallNotice(dataDir: string, timeoutMs = 15_000): Promise<{ sent: boolean; changed?: boolean }> {
  const device = readDeviceFile(dataDir);
  if (!device || !existsSync(paths(dataDir).key)) return { sent: false };
  const key = loadOrCreateDeviceKey(dataDir);
  const payload = { deviceId: device.deviceId, reason: 'package-removed' as const, sentAt: new Date().toISOString() };
  const notice: UninstallNotice = { payload, signature: signPayload('uninstall', payload, key.privateKey, key.publicKey) };
  let response: Response;
  try {
    response = await fetch(new URL(`/api/v1/devices/${device.deviceId}/uninstall`, device.consoleUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(notice),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    throw new UninstallNoticeError(`cannot reach the console at ${device.consoleUrl}: ${describeFetchError(error)}`);
  }
  const body = (await response.json().catch(() => null)) as { message?: string } | null;
  if (!response.ok) throw new UninstallNoticeError(`console refused the uninstall notice (${response.status}): ${body?.message ?? 'no reason given'}`);
  const parsed = UninstallResponseSchema.safeParse(body);
  if (!parsed.success) throw new UninstallNoticeError(`console sent an unexpected answer: ${summariseZodError(parsed.error)}`);
  return { sent: true, changed: parsed.data.changed };
}
