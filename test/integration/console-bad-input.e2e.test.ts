import { createPrivateKey, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enroll } from '../../src/agent/enroll.js';
import { generateEd25519KeyPair } from '../../src/shared/node/crypto.js';
import { startConsoleProcess, type ConsoleHandle } from '../helpers/fleet.js';
import { runCli, stopAll, tempDir } from '../helpers/processes.js';
import { authFrame, connectAs, enrollRawDevice, openRaw, type RawDevice } from '../helpers/raw-device.js';

/**
 * Every kind of bad input from the foundation issue, thrown at a real console process.
 * After each one the console must still be alive and serving.
 */
let dir: ReturnType<typeof tempDir>;
let consoleProc: ConsoleHandle;
let device: RawDevice;

beforeAll(async () => {
  dir = tempDir();
  consoleProc = await startConsoleProcess(join(dir.path, 'console'));
  device = await enrollRawDevice(consoleProc.url);
});
afterAll(async () => {
  await stopAll();
  dir.remove();
});

async function consoleAlive(): Promise<void> {
  expect(consoleProc.proc.child.exitCode).toBeNull();
  expect((await consoleProc.api('/healthz')).status).toBe(200);
}

describe('agent WebSocket: bad frames', () => {
  it('answers malformed JSON, unknown types and schema violations with clear errors', async () => {
    const socket = await connectAs(consoleProc.url, device);
    socket.send('{this is not json');
    expect(await socket.next('error')).toMatchObject({ code: 'malformed', message: expect.stringMatching(/not JSON/) });
    socket.send({ v: 1, type: 'format-disk' });
    expect(await socket.next('error')).toMatchObject({ code: 'unknown-type', message: expect.stringMatching(/format-disk/) });
    socket.send({ v: 1, type: 'heartbeat', sentAt: 12 });
    expect(await socket.next('error')).toMatchObject({ code: 'invalid', message: expect.stringMatching(/sentAt/) });
    socket.send({ v: 99, type: 'heartbeat', sentAt: new Date().toISOString() });
    expect(await socket.next('error')).toMatchObject({ code: 'invalid', message: expect.stringMatching(/protocol version/) });
    // Still connected and still useful after the garbage: a valid event is stored and acked.
    socket.send({
      v: 1,
      type: 'events',
      events: [{ id: randomUUID(), seq: 1, at: new Date().toISOString(), type: 'diagnostic.test', data: { note: 'after garbage', n: 1 } }],
    });
    expect(await socket.next('events.ack')).toMatchObject({ seqs: [1] });
    socket.ws.close();
    await consoleAlive();
    expect(consoleProc.proc.stderr).toMatch(/rejected frame from agent.*unknown-type/);
  });

  it('sets aside an event it cannot read, acknowledges it, and stores the rest of the batch', async () => {
    const socket = await connectAs(consoleProc.url, await enrollRawDevice(consoleProc.url, 'newer-agent'));
    const at = new Date().toISOString();
    socket.send({
      v: 1,
      type: 'events',
      events: [
        { id: randomUUID(), seq: 1, at, type: 'diagnostic.test', data: { note: 'fine', n: 1 } },
        { id: randomUUID(), seq: 2, at, type: 'feature.from-the-future', data: { anything: true } },
        { id: randomUUID(), seq: 3, at, type: 'diagnostic.test', data: { note: 'fine', n: 3 } },
      ],
    });
    expect(await socket.next('events.ack')).toMatchObject({ seqs: [1, 2, 3] });
    socket.ws.close();
    expect(consoleProc.proc.stderr).toMatch(/set aside an event this console cannot read.*feature\.from-the-future/);
    await consoleAlive();
  });

  it('survives a frame nested 100,000 levels deep', async () => {
    const socket = await connectAs(consoleProc.url, await enrollRawDevice(consoleProc.url, 'deep'));
    socket.send(`{"v":1,"type":"heartbeat","sentAt":${'['.repeat(100_000)}${']'.repeat(100_000)}}`);
    expect(await socket.next('error')).toMatchObject({ code: 'invalid' });
    socket.ws.close();
    await consoleAlive();
  });

  it('ends an unauthenticated connection at its first bad frame, without blocking its address', async () => {
    const socket = await openRaw(consoleProc.url);
    await socket.next('challenge');
    socket.send('garbage before authentication');
    expect((await socket.closed).code).toBe(1008);
    // Other agents behind the same address (a school NAT) are unaffected.
    (await connectAs(consoleProc.url, device)).ws.close();
  });

  it("closes a connection that sends an oversized frame (limit 256 KiB, not ws's 100 MiB)", async () => {
    const socket = await connectAs(consoleProc.url, await enrollRawDevice(consoleProc.url, 'big-sender'));
    socket.send(JSON.stringify({ v: 1, type: 'heartbeat', sentAt: 'x'.repeat(300 * 1024) }));
    const { code } = await socket.closed;
    expect(code).toBe(1009);
    await consoleAlive();
  });

  it('disconnects and rate-limits a device that keeps sending garbage', async () => {
    const spammer = await enrollRawDevice(consoleProc.url, 'spammer');
    const socket = await connectAs(consoleProc.url, spammer);
    for (let i = 0; i < 6; i++) socket.send(`garbage ${i}`);
    const { code } = await socket.closed;
    expect(code).toBe(4029);
    expect(socket.received.some((m) => m.type === 'error' && m.code === 'rate-limited')).toBe(true);
    // Coming straight back is refused while the penalty lasts.
    const again = await openRaw(consoleProc.url);
    const challenge = await again.next('challenge');
    again.send(authFrame(spammer, challenge.nonce));
    expect(await again.next('auth.error')).toMatchObject({ code: 'rate-limited' });
    expect((await again.closed).code).toBe(4029);
    // Other devices are unaffected.
    (await connectAs(consoleProc.url, device)).ws.close();
    await consoleAlive();
  });
});

describe('agent WebSocket: authentication', () => {
  it('refuses a client without the device key', async () => {
    const impostor = generateEd25519KeyPair();
    const socket = await openRaw(consoleProc.url);
    const challenge = await socket.next('challenge');
    socket.send(authFrame(device, challenge.nonce, { privateKey: createPrivateKey(impostor.privateKeyPem), publicKey: impostor.publicKey }));
    expect(await socket.next('auth.error')).toMatchObject({ code: 'bad-signature' });
    expect((await socket.closed).code).toBe(4001);
  });

  it('refuses a replayed authentication message', async () => {
    const first = await openRaw(consoleProc.url);
    const challenge = await first.next('challenge');
    const answer = authFrame(device, challenge.nonce);
    first.send(answer);
    await first.next('auth.ok');
    first.ws.close();
    // The same, validly signed answer on a new connection does not match its fresh challenge.
    const second = await openRaw(consoleProc.url);
    await second.next('challenge');
    second.send(answer);
    expect(await second.next('auth.error')).toMatchObject({ code: 'bad-nonce' });
    // Nor can an answer be tried twice on one connection.
    const third = await openRaw(consoleProc.url);
    const c3 = await third.next('challenge');
    third.send({ ...authFrame(device, c3.nonce), signature: answer.signature });
    expect(await third.next('auth.error')).toMatchObject({ code: 'bad-signature' });
    expect((await third.closed).code).toBe(4001);
  });

  it('refuses unknown and revoked devices, and messages before authentication', async () => {
    const unknown = { ...device, deviceId: randomUUID() };
    const s1 = await openRaw(consoleProc.url);
    s1.send(authFrame(unknown, (await s1.next('challenge')).nonce));
    expect(await s1.next('auth.error')).toMatchObject({ code: 'unknown-device' });

    const s2 = await openRaw(consoleProc.url);
    await s2.next('challenge');
    s2.send({ v: 1, type: 'heartbeat', sentAt: new Date().toISOString() });
    expect(await s2.next('error')).toMatchObject({ code: 'not-authenticated' });
    s2.ws.close();

    const doomed = await enrollRawDevice(consoleProc.url, 'doomed');
    const live = await connectAs(consoleProc.url, doomed);
    expect((await consoleProc.api(`/api/v1/devices/${doomed.deviceId}/revoke`, { method: 'POST', body: '{}' })).status).toBe(200);
    expect((await live.closed).code).toBe(4003);
    const s3 = await openRaw(consoleProc.url);
    s3.send(authFrame(doomed, (await s3.next('challenge')).nonce));
    expect(await s3.next('auth.error')).toMatchObject({ code: 'revoked' });
    await consoleAlive();
  });
});

describe('HTTP API: bad requests', () => {
  it('rejects malformed bodies, wrong content types and oversized requests without changing anything', async () => {
    const before = (await consoleProc.api('/api/v1/policies')).body.policies.length;
    const bad = await fetch(`${consoleProc.url}/api/v1/policies`, {
      method: 'POST',
      headers: { authorization: `Bearer ${consoleProc.token}`, 'content-type': 'application/json' },
      body: '{"policy":',
    });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error).toBe('malformed-json');
    const wrongType = await fetch(`${consoleProc.url}/api/v1/policies`, {
      method: 'POST',
      headers: { authorization: `Bearer ${consoleProc.token}`, 'content-type': 'text/plain' },
      body: '{}',
    });
    expect(wrongType.status).toBe(415);
    // Bodies are capped at 512 KiB, except a policy push (the policy push limit, 64 MiB: policy-delivery.e2e).
    const tokensBefore = (await consoleProc.api('/api/v1/enroll-tokens')).body.tokens.length;
    const huge = await consoleProc.api('/api/v1/enroll-tokens', { method: 'POST', body: JSON.stringify({ label: 'x'.repeat(600 * 1024) }) });
    expect(huge.status).toBe(413);
    expect(huge.body.message).toMatch(/the request body limit/);
    expect((await consoleProc.api('/api/v1/enroll-tokens')).body.tokens.length).toBe(tokensBefore);
    const longName = await consoleProc.api('/api/v1/policies', { method: 'POST', body: JSON.stringify({ policy: { name: 'x'.repeat(600 * 1024) } }) });
    expect(longName.status).toBe(400);
    const invalid = await consoleProc.api('/api/v1/policies', { method: 'POST', body: JSON.stringify({ policy: { format: 'vigil-policy/1', name: '' } }) });
    expect(invalid.status).toBe(400);
    expect(invalid.body.message).toMatch(/policy\.name/);
    expect((await consoleProc.api('/api/v1/policies')).body.policies.length).toBe(before);
    await consoleAlive();
  });

  it('checks roles on every route', async () => {
    expect((await consoleProc.api('/api/v1/devices', { token: null })).status).toBe(401);
    expect((await consoleProc.api('/api/v1/devices', { token: 'forged-token' })).status).toBe(401);
    const created = await consoleProc.api('/api/v1/users', {
      method: 'POST',
      body: JSON.stringify({ username: 'tech1', password: 'a-long-technician-password', role: 'technician' }),
    });
    expect(created.status).toBe(201);
    const login = await consoleProc.api('/api/v1/login', {
      method: 'POST',
      token: null,
      body: JSON.stringify({ username: 'tech1', password: 'a-long-technician-password' }),
    });
    const tech = login.body.token as string;
    expect((await consoleProc.api('/api/v1/devices', { token: tech })).status).toBe(200);
    expect((await consoleProc.api('/api/v1/policies', { token: tech, method: 'POST', body: '{}' })).status).toBe(403);
    expect((await consoleProc.api('/api/v1/users', { token: tech })).status).toBe(403);
    expect((await consoleProc.api('/api/v1/audit', { token: tech })).status).toBe(403);
    expect((await consoleProc.api(`/api/v1/devices/${device.deviceId}/revoke`, { token: tech, method: 'POST', body: '{}' })).status).toBe(403);
  });

  it('checks one sign-in per account at a time, so parallel guesses cannot slip past the limit', async () => {
    const guesses = await Promise.all(
      Array.from({ length: 10 }, () =>
        consoleProc.api('/api/v1/login', { method: 'POST', token: null, body: JSON.stringify({ username: 'parallel-victim', password: 'guess-guess-guess' }) }),
      ),
    );
    const statuses = guesses.map((g) => g.status).sort();
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(2);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(8);
  });

  it('rate-limits repeated failed sign-ins', async () => {
    const attempt = () =>
      consoleProc.api('/api/v1/login', { method: 'POST', token: null, body: JSON.stringify({ username: 'victim', password: 'wrong-password-guess' }) });
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push((await attempt()).status);
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(statuses[5]).toBe(429);
    await consoleAlive();
  });

  it('refuses enrollment with a revoked token', async () => {
    const created = await consoleProc.api('/api/v1/enroll-tokens', { method: 'POST', body: JSON.stringify({ label: 'Year 9 trolley', expiresInHours: 1 }) });
    expect(created.status).toBe(201);
    const listed = await runCli(['enroll-token', 'list'], { VIGIL_CONSOLE_URL: consoleProc.url, VIGIL_TOKEN: consoleProc.token });
    expect(listed.stdout).toMatch(new RegExp(`${created.body.id}\\s+active.*Year 9 trolley`));
    const revoked = await runCli(['enroll-token', 'revoke', created.body.id], { VIGIL_CONSOLE_URL: consoleProc.url, VIGIL_TOKEN: consoleProc.token });
    expect(revoked.code).toBe(0);
    const pair = generateEd25519KeyPair();
    await expect(
      enroll({
        consoleUrl: consoleProc.url,
        token: created.body.token,
        key: { deviceId: randomUUID(), privateKey: createPrivateKey(pair.privateKeyPem), publicKey: pair.publicKey },
        hostname: 'late',
        platform: 'linux',
        machineIdHint: null,
      }),
    ).rejects.toThrow(/403.*not valid/);
  });

  it('refuses enrollment with a bad token or a request not signed by its key', async () => {
    const res = await fetch(`${consoleProc.url}/api/v1/enroll`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: 'x'.repeat(20), payload: {}, signature: {} }),
    });
    expect(res.status).toBe(400);
    await expect(enrollRawDevice(consoleProc.url.replace(/\/$/, ''), 'ok')).resolves.toBeTruthy();
  });
});

describe('CLI: bad arguments and bad policy files', () => {
  const env = () => ({ VIGIL_CONSOLE_URL: consoleProc.url, VIGIL_TOKEN: consoleProc.token });
  it('exits non-zero with a one-line reason', async () => {
    const cases: [string[], RegExp, number][] = [
      [['frobnicate'], /unknown command "frobnicate"/, 2],
      [['console', '--port', 'eighty'], /--port must be a whole number/, 2],
      [['console', '--no-such-flag'], /Unknown option '--no-such-flag'/, 2],
      [['agent', '--console', 'ftp://x'], /--console must be an http\(s\) URL/, 2],
      [['policy', 'push'], /usage: vigil policy push <file>/, 2],
      [['policy', 'push', '/nonexistent/policy.json'], /cannot read policy file .*ENOENT/, 1],
      [['user', 'add', 'x', '--role', 'headteacher'], /--role must be one of/, 2],
      [['agent', '--console', 'http://192.0.2.10:8080', '--enroll-token', 'x'.repeat(20)], /refusing to enroll over plain HTTP/, 2],
      [['enroll-token', 'revoke'], /usage: vigil enroll-token revoke/, 2],
    ];
    for (const [args, message, code] of cases) {
      const result = await runCli(args, env());
      expect(result.code, args.join(' ')).toBe(code);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr).toMatch(message);
    }
  });
  it('refuses invalid policy files before anything is sent', async () => {
    const before = (await consoleProc.api('/api/v1/policies')).body.policies.length;
    const notJson = join(dir.path, 'bad.json');
    writeFileSync(notJson, '{ "format": "vigil-policy/1", ');
    const wrongShape = join(dir.path, 'wrong.json');
    writeFileSync(wrongShape, JSON.stringify({ format: 'vigil-policy/1', name: 'x', agent: { heartbeatSeconds: 1 } }));
    const r1 = await runCli(['policy', 'push', notJson], env());
    expect(r1.code).toBe(1);
    expect(r1.stderr).toMatch(/not valid JSON/);
    const r2 = await runCli(['policy', 'push', wrongShape], env());
    expect(r2.code).toBe(1);
    expect(r2.stderr).toMatch(/agent\.heartbeatSeconds/);
    expect((await consoleProc.api('/api/v1/policies')).body.policies.length).toBe(before);
    await consoleAlive();
  });
});
