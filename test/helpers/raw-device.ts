import { createPrivateKey, randomUUID, type KeyObject } from 'node:crypto';
import WebSocket from 'ws';
import { enroll } from '../../src/agent/enroll.js';
import { generateEd25519KeyPair, randomToken } from '../../src/shared/node/crypto.js';
import { deviceAuthPayload, PROTOCOL_VERSION } from '../../src/shared/protocol.js';
import { signPayload } from '../../src/shared/node/signing.js';
import { ENROLL_TOKEN } from './fleet.js';

/** A device the test drives by hand, frame by frame, to try what a real agent never sends. */
export interface RawDevice {
  deviceId: string;
  privateKey: KeyObject;
  publicKey: string;
}

export async function enrollRawDevice(consoleUrl: string, hostname = 'raw-device'): Promise<RawDevice> {
  const pair = generateEd25519KeyPair();
  const key = { deviceId: randomUUID(), privateKey: createPrivateKey(pair.privateKeyPem), publicKey: pair.publicKey };
  await enroll({ consoleUrl, token: ENROLL_TOKEN, key, hostname, platform: 'linux', machineIdHint: null });
  return key;
}

export interface RawSocket {
  ws: WebSocket;
  received: any[];
  closed: Promise<{ code: number; reason: string }>;
  next(type: string, timeoutMs?: number): Promise<any>;
  send(frame: unknown): void;
}

export async function openRaw(consoleUrl: string): Promise<RawSocket> {
  const ws = new WebSocket(consoleUrl.replace(/^http/, 'ws') + '/api/v1/agent', { maxPayload: 1024 * 1024 * 1024 });
  const received: any[] = [];
  const waiters: (() => void)[] = [];
  ws.on('message', (data) => {
    try {
      received.push(JSON.parse(data.toString()));
    } catch {
      received.push({ unparsable: data.toString() });
    }
    waiters.splice(0).forEach((w) => w());
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  ws.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    ws.once('error', reject);
  });
  const socket: RawSocket = {
    ws,
    received,
    closed,
    send: (frame) => ws.send(typeof frame === 'string' || Buffer.isBuffer(frame) ? frame : JSON.stringify(frame)),
    async next(type, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const index = received.findIndex((m) => m.type === type);
        if (index >= 0) return received.splice(index, 1)[0];
        if (Date.now() > deadline) throw new Error(`no ${type} frame; got ${JSON.stringify(received).slice(0, 500)}`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 100);
        });
      }
    },
  };
  return socket;
}

export function authFrame(device: RawDevice, nonce: string, signer: { privateKey: KeyObject; publicKey: string } = device) {
  const clientNonce = randomToken(32);
  const payload = deviceAuthPayload(device.deviceId, nonce, clientNonce);
  const sig = signPayload('device-auth', payload, signer.privateKey, signer.publicKey);
  return { v: PROTOCOL_VERSION, type: 'auth', deviceId: device.deviceId, nonce, clientNonce, signature: sig.value };
}

/** Opens a socket and completes authentication as the device. */
export async function connectAs(consoleUrl: string, device: RawDevice): Promise<RawSocket> {
  const socket = await openRaw(consoleUrl);
  const challenge = await socket.next('challenge');
  socket.send(authFrame(device, challenge.nonce));
  await socket.next('auth.ok');
  return socket;
}

/** Connects, authenticates and says hello as a service agent holding no policy (so the console sends what it has). */
export async function connectWithHello(consoleUrl: string, device: RawDevice): Promise<RawSocket> {
  const socket = await connectAs(consoleUrl, device);
  socket.send({ v: PROTOCOL_VERSION, type: 'hello', agentVersion: 'test', policyVersion: null, policyDigest: null, mode: 'service', capabilities: ['events'] });
  return socket;
}

/** An `events` frame with one event; the caller numbers them (seq) per device. */
export function eventFrame(seq: number, type: string, data: unknown) {
  return { v: PROTOCOL_VERSION, type: 'events', events: [{ id: randomUUID(), seq, at: new Date().toISOString(), type, data }] };
}
