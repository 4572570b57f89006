import type { AupAcceptRequest, AupBridgeResult, AupPageData } from '../../shared/aup-bridge.js';

/**
 * Whether a signed-in user must be shown the AUP before using the device, decided by the
 * service. `accepted-here`: a receipt for the current version is held on this device.
 * `accepted-elsewhere`: the console says the user accepted this version on another device.
 * `needed`: show the gate. `no-aup`: the policy names no AUP (or none has been delivered).
 */
export type AupGateDecision =
  { needed: false; reason: 'accepted-here' | 'accepted-elsewhere' | 'no-aup' } | { needed: true; reason: 'not-accepted' | 'new-version'; page: AupPageData };

/**
 * What the tray's AUP window (through local IPC) asks of the service. Implemented by the
 * service's AUP gate; faked in the tray's unit tests.
 */
export interface AupGateApi {
  decide(user: string): Promise<AupGateDecision>;
  /** Records a device-signed receipt locally and queues it for the console. */
  accept(user: string, request: AupAcceptRequest): Promise<AupBridgeResult>;
  /** The pupil declined: the service signs the user out (with an event saying why). */
  decline(user: string): Promise<AupBridgeResult>;
}
