import { randomUUID } from 'node:crypto';
import { newDeviceRecord } from '../src/console/devices.js';
import type { DeviceRecord } from '../src/console/store/store.js';
import { generateEd25519KeyPair } from '../src/shared/node/crypto.js';

/** A freshly enrolled device's record, as the console stores it (enrolled with token `tok`). */
export function deviceRecord(id = randomUUID(), hostname = 'lab-01'): DeviceRecord {
  return newDeviceRecord({ id, publicKey: generateEd25519KeyPair().publicKey, hostname, platform: 'linux', machineIdHint: null, enrolledWith: 'tok' });
}
