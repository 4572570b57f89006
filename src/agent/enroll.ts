import { setTimeout as sleep } from 'node:timers/promises';
import { Backoff } from '../shared/backoff.js';
import type { Logger } from '../shared/node/log.js';
import { EnrollResponseSchema, type EnrollRequest } from '../shared/api.js';
import { describeFetchError } from '../shared/fetch-error.js';
import { summariseZodError } from '../shared/policy.js';
import { signPayload } from '../shared/node/signing.js';
import { keyId } from '../shared/node/crypto.js';
import type { Platform } from '../shared/status.js';
import { writeDeviceFile, type DeviceKey, type DeviceFile } from './identity.js';
import { machineIdHint, systemFacts } from './platform/sysinfo.js';

export class EnrollError extends Error {}

/**
 * Enrolls this device: presents the enrollment token and the device public key, signed with
 * the private key to prove possession. If `pinnedConsoleKey` is given (installers pass the
 * console's public key), a console answering with any other key is refused.
 */
export async function enroll(opts: {
  consoleUrl: string;
  token: string;
  key: DeviceKey;
  hostname: string;
  platform: Platform;
  machineIdHint: string | null;
  pinnedConsoleKey?: string;
}): Promise<DeviceFile> {
  const payload = {
    deviceId: opts.key.deviceId,
    publicKey: opts.key.publicKey,
    hostname: opts.hostname,
    platform: opts.platform,
    machineIdHint: opts.machineIdHint,
    requestedAt: new Date().toISOString(),
  };
  const request: EnrollRequest = {
    token: opts.token,
    payload,
    signature: signPayload('enroll', payload, opts.key.privateKey, opts.key.publicKey),
  };
  let response: Response;
  try {
    response = await fetch(new URL('/api/v1/enroll', opts.consoleUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(request),
      signal: AbortSignal.timeout(15_000),
    });
  } catch (error) {
    throw new EnrollError(`cannot reach the console at ${opts.consoleUrl}: ${describeFetchError(error)}`);
  }
  const body = (await response.json().catch(() => null)) as { message?: string } | null;
  if (!response.ok) throw new EnrollError(`console refused enrollment (${response.status}): ${body?.message ?? 'no reason given'}`);
  const parsed = EnrollResponseSchema.safeParse(body);
  if (!parsed.success) throw new EnrollError(`console sent an unexpected enrollment answer: ${summariseZodError(parsed.error)}`);
  if (opts.pinnedConsoleKey && parsed.data.consolePublicKey !== opts.pinnedConsoleKey) {
    throw new EnrollError(`console key ${keyId(parsed.data.consolePublicKey)} is not the pinned key ${keyId(opts.pinnedConsoleKey)}; refusing to enroll`);
  }
  if (parsed.data.deviceId !== opts.key.deviceId) throw new EnrollError('console answered for a different device id');
  return {
    deviceId: parsed.data.deviceId,
    consoleUrl: opts.consoleUrl,
    consolePublicKey: parsed.data.consolePublicKey,
    enrolledAt: new Date().toISOString(),
  };
}

/** Enrolls with this machine's facts and saves the answer as device.json in `dataDir`. */
export async function enrollAndSave(opts: {
  dataDir: string;
  consoleUrl: string;
  token: string;
  key: DeviceKey;
  pinnedConsoleKey?: string;
}): Promise<DeviceFile> {
  const facts = await systemFacts();
  const device = await enroll({
    consoleUrl: opts.consoleUrl,
    token: opts.token,
    key: opts.key,
    hostname: facts.hostname,
    platform: facts.platform,
    machineIdHint: await machineIdHint(),
    pinnedConsoleKey: opts.pinnedConsoleKey,
  });
  writeDeviceFile(opts.dataDir, device);
  return device;
}

/**
 * Enrolls this device at first start, waiting out an unreachable console (a refusal is final).
 * Resolves with the saved device file.
 */
export async function enrollWithRetry(opts: {
  dataDir: string;
  consoleUrl?: string;
  enrollToken?: string;
  pinnedConsoleKey?: string;
  key: DeviceKey;
  log: Logger;
}): Promise<DeviceFile> {
  const { consoleUrl, enrollToken, log } = opts;
  if (!consoleUrl || !enrollToken) {
    throw new EnrollError('this device is not enrolled: give --console and --enroll-token (or /etc/vigil/enroll.json)');
  }
  const backoff = new Backoff(1000, 60_000);
  for (;;) {
    try {
      const device = await enrollAndSave({ dataDir: opts.dataDir, consoleUrl, token: enrollToken, key: opts.key, pinnedConsoleKey: opts.pinnedConsoleKey });
      log.info('enrolled with console', { deviceId: device.deviceId, console: consoleUrl });
      return device;
    } catch (error) {
      // A refusal is final; an unreachable console is worth waiting for.
      if (!(error instanceof EnrollError) || !/cannot reach/.test(error.message)) throw error;
      const delay = backoff.next();
      log.warn(`${error.message}; retrying in ${Math.round(delay / 1000)} s`);
      await sleep(delay);
    }
  }
}
