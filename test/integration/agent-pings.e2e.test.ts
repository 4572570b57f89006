import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startConsoleProcess, type ConsoleHandle } from '../helpers/fleet.js';
import { stopAll, tempDir, waitUntil } from '../helpers/processes.js';
import { authFrame, enrollRawDevice, type RawDevice } from '../helpers/raw-device.js';

/**
 * The console pings every agent connection once per interval (in slices spread over it, so that
 * thousands of sockets are not written in one turn of its event loop) and drops one that did not
 * answer the previous ping: a real console process, devices on loopback, one of which never pongs.
 */
let dir: ReturnType<typeof tempDir>;
let consoleProc: ConsoleHandle;

interface Watched {
  ws: WebSocket;
  pings: number;
  closed: Promise<number>;
}

async function connect(device: RawDevice, answersPings: boolean): Promise<Watched> {
  const ws = new WebSocket(consoleProc.url.replace(/^http/, 'ws') + '/api/v1/agent', { autoPong: answersPings });
  const watched: Watched = { ws, pings: 0, closed: new Promise((resolve) => ws.on('close', (code) => resolve(code))) };
  ws.on('ping', () => watched.pings++);
  ws.on('error', () => undefined);
  const frames: any[] = [];
  ws.on('message', (data) => frames.push(JSON.parse(data.toString())));
  await new Promise((resolve) => ws.once('open', resolve));
  await waitUntil(async () => frames.some((f) => f.type === 'challenge'));
  ws.send(JSON.stringify(authFrame(device, frames.find((f) => f.type === 'challenge').nonce)));
  await waitUntil(async () => frames.some((f) => f.type === 'auth.ok'));
  return watched;
}

beforeAll(async () => {
  dir = tempDir();
  consoleProc = await startConsoleProcess(dir.path, { pingSeconds: 1 });
}, 90_000);

afterAll(async () => {
  await stopAll();
  dir.remove();
});

describe('agent connection pings', () => {
  it('every connection is pinged once per interval; one that stops answering is dropped, the others stay', async () => {
    const devices = await Promise.all(Array.from({ length: 13 }, (_, i) => enrollRawDevice(consoleProc.url, `ping-${i}`)));
    const answering = await Promise.all(devices.slice(1).map((d) => connect(d, true)));
    const silent = await connect(devices[0]!, false);
    // Dropped once it has missed a ping: the close is abnormal (terminated), not a protocol close.
    expect(await silent.closed).toBe(1006);
    expect(silent.pings).toBeGreaterThanOrEqual(1);
    // Every answering connection is still open and has been pinged, each at most once per interval
    // since it connected (the silent one was dropped at its second ping, so at most ~2 intervals).
    await waitUntil(async () => answering.every((a) => a.pings >= 2), 15_000);
    for (const a of answering) expect(a.ws.readyState).toBe(WebSocket.OPEN);
    const counts = answering.map((a) => a.pings);
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
    answering.forEach((a) => a.ws.close());
  }, 60_000);
});
