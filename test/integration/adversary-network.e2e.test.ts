import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION } from '../../src/shared/protocol.js';
import { startAgentProcess, startConsoleProcess, type ConsoleHandle } from '../helpers/fleet.js';
import { CLI, kill, runCli, startProcess, stopAll, tempDir, waitUntil } from '../helpers/processes.js';
import { connectAs, enrollRawDevice, eventFrame, openRaw } from '../helpers/raw-device.js';

/**
 * Issue 15, the network as adversary, against a real console process over loopback: one
 * address (a school's NAT) flooding the agents' endpoint with connections that never
 * authenticate, a signed-in device flooding valid frames, and a browser page opening the
 * agents' WebSocket. After each the other devices must be unaffected and every drop counted.
 */
let dir: ReturnType<typeof tempDir>;
let consoleProc: ConsoleHandle;

beforeAll(async () => {
  dir = tempDir();
  // 64 unauthenticated connections per address instead of 512: on this shared 2-core machine the
  // console upgrades only a few hundred connections a second, too few for a flood to hold 512.
  consoleProc = await startConsoleProcess(join(dir.path, 'console'), { env: { VIGIL_PENDING_PER_ADDRESS: String(PENDING_CAP) } });
});
afterAll(async () => {
  await stopAll();
  dir.remove();
});

const PENDING_CAP = 64;
const stats = async () => (await consoleProc.api('/api/v1/stats')).body;

function status(hostname: string, uptimeSeconds: number) {
  return {
    hostname,
    os: { platform: 'linux', release: '6.1.0', distro: 'Debian GNU/Linux 12', arch: 'x64' },
    user: 'pupil1',
    users: ['pupil1'],
    uptimeSeconds,
    agentVersion: '0.9.1',
    policyVersion: null,
    appControl: { enforcement: 'pre-exec', mode: 'enforce', detail: null, marks: ['/home'] },
    collectedAt: new Date().toISOString(),
  };
}

/**
 * Keeps `size` WebSocket upgrades to the agents' endpoint open from 127.0.0.1, none of which
 * ever authenticates, re-opening each one the moment the console closes it.
 */
function upgradeFlood(port: number, size: number) {
  const open = new Set<Socket>();
  let stopped = false;
  let opened = 0;
  let upgraded = 0;
  const one = () => {
    if (stopped) return;
    const socket = connect(port, '127.0.0.1');
    opened++;
    open.add(socket);
    socket.on('connect', () =>
      socket.write(
        `GET /api/v1/agent HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${Buffer.from(String(Math.random())).toString('base64').slice(0, 22)}==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      ),
    );
    let counted = false;
    socket.on('data', (data) => {
      if (counted || !data.toString('latin1').startsWith('HTTP/1.1 101')) return;
      counted = true;
      upgraded++;
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      open.delete(socket);
      setImmediate(one);
    });
  };
  for (let i = 0; i < size; i++) one();
  return {
    get open() {
      return open.size;
    },
    get opened() {
      return opened;
    },
    get upgraded() {
      return upgraded;
    },
    stop() {
      stopped = true;
      for (const s of open) s.destroy();
    },
  };
}

describe('one address cannot keep a school offline (issue 15, point 6)', () => {
  it('a real agent connects while its own address holds every unauthenticated slot, four times over, re-opening each one closed', async () => {
    // Before issue 15 a newcomer past the cap was answered 503, and this agent stayed out for as long as the flood ran.
    const before = await stats();
    const flood = upgradeFlood(consoleProc.port, 4 * PENDING_CAP);
    try {
      // The flood fills every slot its address has before the agent starts, and keeps four
      // times as many knocking.
      await waitUntil(() => flood.upgraded >= 4 * PENDING_CAP, 60_000);
      const agent = startAgentProcess(join(dir.path, 'agent'), consoleProc.url);
      await agent.waitFor(/running as device/, 60_000);
      await waitUntil(async () => (await consoleProc.api('/healthz')).body.devicesOnline === 1, 90_000);
      // The flood was still running at full size while the agent got in.
      expect(flood.open).toBeGreaterThanOrEqual(3 * PENDING_CAP);
      const after = await stats();
      // Room was made by closing the flood's oldest waiting connections, counted, not by refusing newcomers.
      expect(after.hub.preAuthEvicted - before.hub.preAuthEvicted).toBeGreaterThan(0);
    } finally {
      flood.stop();
    }
    expect(consoleProc.proc.child.exitCode).toBeNull();
  }, 240_000);
});

describe('one address cannot keep a school offline: the rule itself (issue 15, point 6)', () => {
  it('with every slot of an address held, a newcomer from it is let in and the oldest waiting connection is closed', async () => {
    const device = await enrollRawDevice(consoleProc.url, 'behind-the-nat');
    const before = (await stats()).hub.preAuthEvicted;
    const held = await Promise.all(Array.from({ length: PENDING_CAP }, () => openRaw(consoleProc.url)));
    await Promise.all(held.map((h) => h.next('challenge', 30_000)));
    // Before issue 15 this upgrade was answered 503.
    const socket = await connectAs(consoleProc.url, device);
    expect((await stats()).hub.preAuthEvicted - before).toBeGreaterThanOrEqual(1);
    expect(held.filter((h) => h.ws.readyState !== h.ws.OPEN).length).toBeGreaterThanOrEqual(1);
    socket.ws.close();
    held.forEach((h) => h.ws.terminate());
  });
});

describe('per-device frame budgets (issue 15, point 7)', () => {
  it('drops and counts what a signed-in device sends over its budget, tells it, and other devices are served', async () => {
    const hostile = await enrollRawDevice(consoleProc.url, 'hostile');
    const other = await enrollRawDevice(consoleProc.url, 'bystander');
    const socket = await connectAs(consoleProc.url, hostile);
    const sent = 3000;
    for (let i = 0; i < sent; i++) socket.send({ v: PROTOCOL_VERSION, type: 'status', status: status(`hostile-${i}`, i) });
    // Frames are handled in order: once this event is acknowledged, every status frame was handled.
    socket.send(eventFrame(1, 'diagnostic.test', { note: 'after the flood', n: 1 }));
    await socket.next('events.ack', 60_000);
    const told = socket.received.filter((m) => m.type === 'error' && m.code === 'rate-limited');
    expect(told.length).toBeGreaterThanOrEqual(1);
    expect(told.length).toBeLessThan(10); // told, not answered once per dropped frame
    expect(told[0].message).toMatch(/too many status frames/);

    const { overBudget, hub } = await stats();
    const mine = overBudget.devices.find((d: { deviceId: string }) => d.deviceId === hostile.deviceId);
    // At most the burst (10) and a few refills got through; everything else was dropped and counted.
    expect(mine.byType.status).toBeGreaterThanOrEqual(sent - 30);
    expect(hub.framesOverBudget).toBeGreaterThanOrEqual(mine.dropped);
    const history = (await consoleProc.api(`/api/v1/devices/${hostile.deviceId}/history`)).body.history as { kind: string }[];
    expect(history.filter((h) => h.kind === 'status').length).toBeLessThanOrEqual(30);
    // The technician sees it on the device (the device page's "Refused from this device" row reads this).
    expect((await consoleProc.api(`/api/v1/devices/${hostile.deviceId}`)).body.device.framesDropped).toBe(mine.dropped);

    // Reconnecting does not refill the budget: it is the device's, not the connection's.
    socket.ws.close();
    const again = await connectAs(consoleProc.url, hostile);
    for (let i = 0; i < 40; i++) again.send({ v: PROTOCOL_VERSION, type: 'status', status: status(`again-${i}`, i) });
    again.send(eventFrame(2, 'diagnostic.test', { note: 'after reconnecting', n: 2 }));
    await again.next('events.ack', 30_000);
    const afterReconnect = (await stats()).overBudget.devices.find((d: { deviceId: string }) => d.deviceId === hostile.deviceId);
    expect(afterReconnect.byType.status).toBeGreaterThanOrEqual(mine.byType.status + 30);
    again.ws.close();

    // Another device is untouched: its status is stored and shown.
    const bystander = await connectAs(consoleProc.url, other);
    bystander.send({ v: PROTOCOL_VERSION, type: 'status', status: status('bystander-lab', 5) });
    bystander.send(eventFrame(1, 'diagnostic.test', { note: 'bystander', n: 1 }));
    await bystander.next('events.ack');
    expect(bystander.received.some((m) => m.type === 'error')).toBe(false);
    expect((await consoleProc.api(`/api/v1/devices/${other.deviceId}`)).body.device.status.hostname).toBe('bystander-lab');
    bystander.ws.close();
  });
});

describe("the agents' WebSocket refuses browser pages (issue 15, point 9)", () => {
  it('answers an upgrade that carries an Origin with 403, counted; agents (no Origin) connect', async () => {
    const before = (await stats()).hub.refusedOrigin;
    const answer = await new Promise<string>((resolve) => {
      const socket = connect(consoleProc.port, '127.0.0.1', () =>
        socket.write(
          `GET /api/v1/agent HTTP/1.1\r\nHost: 127.0.0.1:${consoleProc.port}\r\nOrigin: https://evil.example\r\nUpgrade: websocket\r\n` +
            'Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
        ),
      );
      let text = '';
      socket.on('data', (d) => (text += d.toString('latin1')));
      socket.on('close', () => resolve(text));
      socket.on('error', () => resolve(text));
    });
    expect(answer).toMatch(/^HTTP\/1\.1 403/);
    expect((await stats()).hub.refusedOrigin).toBe(before + 1);
    const agentLike = await openRaw(consoleProc.url);
    expect((await agentLike.next('challenge')).type).toBe('challenge');
    agentLike.ws.close();
  });
});

describe('the enrollment token stays off the command line (issue 15, point 8)', () => {
  it('takes the token from a file or standard input, hides one given on the command line, and an admin can revoke every device enrolled with it', async () => {
    const created = await consoleProc.api('/api/v1/enroll-tokens', { method: 'POST', body: JSON.stringify({ label: 'lab 3', expiresInHours: 1 }) });
    expect(created.status).toBe(201);
    const { id: tokenId, token } = created.body;
    const cmdline = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8');

    // A token file other users can read is refused: it would be no better than the command line.
    const loose = join(dir.path, 'token-loose');
    writeFileSync(loose, `${token}\n`, { mode: 0o644 });
    const refused = await runCli(['agent', '--data-dir', join(dir.path, 'agent-loose'), '--console', consoleProc.url, '--enroll-token-file', loose]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/other users can read it/);

    const file = join(dir.path, 'token');
    writeFileSync(file, `${token}\n`, { mode: 0o600 });
    const fromFile = startProcess([CLI, 'agent', '--data-dir', join(dir.path, 'agent-file'), '--console', consoleProc.url, '--enroll-token-file', file]);
    await fromFile.waitFor(/running as device/, 60_000);
    expect(cmdline(fromFile.child.pid!)).not.toContain(token);

    // On the command line (scripted use): overwritten at once, and the agent says why.
    const onArgv = startProcess([CLI, 'agent', '--data-dir', join(dir.path, 'agent-argv'), '--console', consoleProc.url, '--enroll-token', token]);
    await onArgv.waitFor(/running as device/, 60_000);
    expect(cmdline(onArgv.child.pid!)).not.toContain(token);
    expect(onArgv.stderr).toMatch(/enrollment token was given on the command line/);

    // From standard input (`--enroll-token -`).
    const viaStdin = spawn(process.execPath, [CLI, 'agent', '--data-dir', join(dir.path, 'agent-stdin'), '--console', consoleProc.url, '--enroll-token', '-'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdinOut = '';
    viaStdin.stdout!.on('data', (d: Buffer) => (stdinOut += d.toString()));
    viaStdin.stderr!.on('data', () => undefined);
    viaStdin.stdin!.end(`${token}\n`);
    try {
      await waitUntil(
        () => /running as device/.test(stdinOut),
        60_000,
        () => `agent reading the token from stdin: ${stdinOut}`,
      );
      expect(cmdline(viaStdin.pid!)).not.toContain(token);
    } finally {
      const exited = new Promise((resolve) => viaStdin.once('exit', resolve));
      viaStdin.kill('SIGTERM');
      await exited;
    }

    // The admin sees who enrolled with the token, and revokes them all at once.
    const listed = await consoleProc.api(`/api/v1/enroll-tokens/${tokenId}/devices`);
    expect(listed.status).toBe(200);
    expect(listed.body.devices).toHaveLength(3);
    const revoked = await consoleProc.api(`/api/v1/enroll-tokens/${tokenId}/revoke-devices`, { method: 'POST', body: '{}' });
    expect(revoked.body.revoked.sort()).toEqual(listed.body.devices.map((d: { id: string }) => d.id).sort());
    const after = (await consoleProc.api(`/api/v1/enroll-tokens/${tokenId}/devices`)).body.devices;
    expect(after.every((d: { revoked: boolean }) => d.revoked)).toBe(true);
    const audit = (await consoleProc.api('/api/v1/audit?limit=100')).body.audit.filter((a: { action: string }) => a.action === 'device.revoked');
    expect(audit.filter((a: { detail: { enrolledWith?: string } }) => a.detail.enrolledWith === tokenId)).toHaveLength(3);
    await kill(fromFile);
    await kill(onArgv);
  }, 240_000);
});
