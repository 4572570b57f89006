import type { DeviceSummary, EnrollRequest, EnrollResponse } from '../shared/api.js';
import { sha256Hex } from '../shared/node/crypto.js';
import { AGENT_WS_PATH } from '../shared/protocol.js';
import { verifyPayload } from '../shared/node/signing.js';
import type { Logger } from '../shared/node/log.js';
import { ConflictError, ForbiddenError, InvalidError } from './errors.js';
import type { ConsoleStore, DeviceRecord } from './store/store.js';

/** What the console knows about a connected device beyond its stored record (held in memory). */
export interface DeviceLiveState {
  presence?: DeviceSummary['presence'];
  activity?: DeviceSummary['activity'];
}

export function toDeviceSummary(d: DeviceRecord, live: DeviceLiveState = {}): DeviceSummary {
  return {
    id: d.id,
    hostname: d.hostname,
    platform: d.platform,
    online: d.online,
    lastSeenAt: d.lastSeenAt,
    enrolledAt: d.enrolledAt,
    revoked: d.revoked,
    cloneSuspect: d.cloneSuspect,
    agentVersion: d.agentVersion,
    policyVersion: d.policyVersion,
    status: d.status,
    presence: live.presence ?? (d.online ? 'online' : 'offline'),
    activity: d.online ? (live.activity ?? null) : null,
  };
}

/** Enrollment: an enrollment token plus proof of the device key buys a device record. */
export class EnrollmentService {
  constructor(
    private readonly store: ConsoleStore,
    private readonly consolePublicKey: string,
    private readonly log: Logger,
  ) {}

  async enroll(request: EnrollRequest, ip: string): Promise<EnrollResponse> {
    const token = await this.store.getEnrollTokenByHash(sha256Hex(request.token));
    if (!token || token.revoked || Date.parse(token.expiresAt) <= Date.now()) {
      this.log.warn('enrollment refused: unknown, revoked or expired token', { ip });
      throw new ForbiddenError('bad-enroll-token', 'the enrollment token is not valid (unknown, revoked or expired)');
    }
    const { payload } = request;
    if (!verifyPayload('enroll', payload, request.signature, payload.publicKey)) {
      throw new InvalidError('bad-signature', 'the enrollment request is not signed by the key it presents');
    }
    if (Math.abs(Date.parse(payload.requestedAt) - Date.now()) > 15 * 60_000) {
      throw new InvalidError('stale-request', 'the enrollment request is too old or the device clock is wrong');
    }
    const existing = await this.store.getDevice(payload.deviceId);
    if (existing) {
      // Same id and same key: the agent is retrying an enrollment whose answer it never got.
      if (existing.publicKey === payload.publicKey && !existing.revoked) return this.response(existing.id);
      throw new ConflictError('device-exists', 'a different device is already enrolled with this id');
    }
    const record = newDeviceRecord({
      id: payload.deviceId,
      publicKey: payload.publicKey,
      hostname: payload.hostname,
      platform: payload.platform,
      machineIdHint: payload.machineIdHint,
      enrolledWith: token.id,
    });
    // A key already enrolled under another id is the store's ConflictError('key-in-use').
    const enrolled = await this.store.enrollDevice(record, token.id);
    if (!enrolled) throw new ForbiddenError('bad-enroll-token', 'the enrollment token has no uses left');
    await this.store.appendAudit({
      at: record.enrolledAt,
      actor: `enroll-token:${token.label}`,
      action: 'device.enrolled',
      target: record.id,
      detail: { hostname: record.hostname, platform: record.platform, ip },
    });
    await this.flagClones(record);
    this.log.info('device enrolled', { deviceId: record.id, hostname: record.hostname });
    return this.response(record.id);
  }

  /** Two live devices with one machine id usually means a cloned disk image: flag, don't refuse. */
  private async flagClones(record: DeviceRecord): Promise<void> {
    if (!record.machineIdHint) return;
    const twins = (await this.store.findDevicesByMachineHint(record.machineIdHint)).filter((d) => !d.revoked);
    if (twins.length < 2) return;
    await this.store.setCloneSuspect(twins.map((d) => d.id));
    await this.store.appendAudit({
      at: new Date().toISOString(),
      actor: 'console',
      action: 'device.clone-suspected',
      target: record.id,
      detail: { devices: twins.map((d) => d.id) },
    });
    this.log.warn('devices share a machine id: possible cloned image', { devices: twins.map((d) => d.id) });
  }

  private response(deviceId: string): EnrollResponse {
    return { deviceId, consolePublicKey: this.consolePublicKey, agentPath: AGENT_WS_PATH };
  }
}

/** A device's record on the day it enrolls: nothing heard from it yet. */
export function newDeviceRecord(
  enrolled: Pick<DeviceRecord, 'id' | 'publicKey' | 'hostname' | 'platform' | 'machineIdHint' | 'enrolledWith'>,
  enrolledAt = new Date(),
): DeviceRecord {
  return {
    ...enrolled,
    enrolledAt: enrolledAt.toISOString(),
    revoked: false,
    cloneSuspect: false,
    online: false,
    lastSeenAt: null,
    agentVersion: null,
    policyVersion: null,
    status: null,
  };
}
