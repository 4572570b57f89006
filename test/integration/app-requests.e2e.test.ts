import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION } from '../../src/shared/protocol.js';
import { startConsoleProcess, type ConsoleHandle } from '../helpers/fleet.js';
import { stopAll, tempDir, waitUntil } from '../helpers/processes.js';
import { connectWithHello, enrollRawDevice, type RawDevice, type RawSocket } from '../helpers/raw-device.js';

/**
 * The console side of the request-permission loop, without root: a real console process and a
 * device driven frame by frame. Roles, bad input, approval as a time-boxed, group-scoped
 * exception delivered live, decline, and the audit trail.
 */
describe('application requests at the console', () => {
  let dir: ReturnType<typeof tempDir>;
  let consoleProc: ConsoleHandle;
  let device: RawDevice;
  let socket: RawSocket;
  let seq = 0;
  const SHA = 'd'.repeat(64);

  const request = (data: Record<string, unknown>, id = randomUUID()) => {
    socket.send({ v: PROTOCOL_VERSION, type: 'events', events: [{ id, seq: ++seq, at: new Date().toISOString(), type: 'app.permission-requested', data }] });
    return id;
  };
  const body = (over: Record<string, unknown> = {}) => ({
    name: 'geogebra',
    path: '/home/ann/Downloads/geogebra',
    sha256: SHA,
    signer: 'unknown',
    user: 'ann',
    reason: 'maths',
    ...over,
  });
  const post = (path: string, payload: unknown, token?: string) =>
    consoleProc.api(path, { method: 'POST', body: JSON.stringify(payload), ...(token ? { token } : {}) });
  const signIn = async (username: string, role: string) => {
    await post('/api/v1/users', { username, password: `a-long-password-for-${username}`, role });
    return (await post('/api/v1/login', { username, password: `a-long-password-for-${username}` }, undefined)).body.token as string;
  };

  beforeAll(async () => {
    dir = tempDir();
    consoleProc = await startConsoleProcess(join(dir.path, 'console'));
    device = await enrollRawDevice(consoleProc.url, 'lab-07');
    socket = await connectWithHello(consoleProc.url, device);
  });
  afterAll(async () => {
    socket?.ws.close();
    await stopAll();
    dir?.remove();
  });

  it('queues each request once; a malformed one is set aside', async () => {
    const id = request(body());
    socket.send({ v: PROTOCOL_VERSION, type: 'events', events: [{ id, seq, at: new Date().toISOString(), type: 'app.permission-requested', data: body() }] }); // a resend
    request(body({ sha256: 'not-a-hash' }));
    await socket.next('events.ack');
    const list = await waitUntil(async () => {
      const r = (await consoleProc.api('/api/v1/app-requests')).body.requests;
      return r.length ? r : null;
    });
    expect(list).toEqual([
      expect.objectContaining({ id, deviceId: device.deviceId, hostname: 'lab-07', sha256: SHA, user: 'ann', reason: 'maths', status: 'pending' }),
    ]);
  });

  it('is for admins and systems managers only, and refuses bad input', async () => {
    const tech = await signIn('tech', 'technician');
    const sm = await signIn('sysman', 'systems_manager');
    expect((await consoleProc.api('/api/v1/app-requests', { token: tech })).status).toBe(403);
    expect((await consoleProc.api('/api/v1/app-requests', { token: sm })).status).toBe(200);
    const [pending] = (await consoleProc.api('/api/v1/app-requests?status=pending')).body.requests;
    expect((await post(`/api/v1/app-requests/${pending.id}/approve`, {}, tech)).status).toBe(403);
    expect((await consoleProc.api('/api/v1/app-requests?status=maybe')).status).toBe(400);
    expect((await post('/api/v1/app-requests/not-a-uuid/approve', {})).status).toBe(400);
    expect((await post(`/api/v1/app-requests/${randomUUID()}/approve`, {})).status).toBe(404);
    expect((await post(`/api/v1/app-requests/${pending.id}/approve`, { by: 'whim' })).status).toBe(400);
    expect((await post(`/api/v1/app-requests/${pending.id}/approve`, { expiresAt: '2020-01-01T00:00:00Z' })).status).toBe(400);
    expect((await post(`/api/v1/app-requests/${pending.id}/approve`, { groups: ['Year 7!'] })).status).toBe(400);
    // No policy to add the rule to yet: refused, nothing decided.
    expect(await post(`/api/v1/app-requests/${pending.id}/approve`, {})).toMatchObject({ status: 409, body: { error: 'no-policy' } });
    expect((await consoleProc.api(`/api/v1/app-requests?status=pending`)).body.requests).toHaveLength(1);
  });

  it('approves as a time-boxed, group-scoped exception delivered live; declines; audits both', async () => {
    await post('/api/v1/policies', { policy: { format: 'vigil-policy/1', name: 'base', groups: { 'year-7': [device.deviceId] } } });
    await socket.next('policy');
    const [pending] = (await consoleProc.api('/api/v1/app-requests?status=pending')).body.requests;
    const expiresAt = new Date(Date.now() + 7 * 86400_000).toISOString();
    const approved = await post(`/api/v1/app-requests/${pending.id}/approve`, { expiresAt, groups: ['year-7'], note: 'for the maths unit' });
    expect(approved).toMatchObject({
      status: 200,
      body: { version: 2, deliveredTo: 1, request: { status: 'approved', decidedBy: 'admin', note: 'for the maths unit', policyVersion: 2 } },
    });
    const live = await socket.next('policy');
    const apps = live.bundle.payload.policy.applications;
    expect(apps).toMatchObject({ mode: 'monitor', defaultAction: 'allow', rules: [] });
    // The device is in year-7: its group set's bundle carries the exception, scope resolved by the console.
    expect(apps.exceptions).toEqual([
      {
        rule: expect.objectContaining({ kind: 'sha256', sha256: SHA, action: 'allow' }),
        expiresAt,
        reason: expect.stringMatching(/ann: maths/),
      },
    ]);
    expect(apps.exceptions[0].rule.groups).toBeUndefined();
    expect(live.bundle.payload.policy.groups).toBeUndefined();
    expect((await post(`/api/v1/app-requests/${pending.id}/decline`, {})).status).toBe(409);

    const second = request(body({ name: 'game', sha256: 'e'.repeat(64), reason: null }));
    await waitUntil(async () => (await consoleProc.api('/api/v1/app-requests?status=pending')).body.requests.length === 1);
    expect(await post(`/api/v1/app-requests/${second}/decline`, { note: 'not for school' })).toMatchObject({
      status: 200,
      body: { request: { status: 'declined', note: 'not for school' } },
    });
    expect((await consoleProc.api('/api/v1/policies/current')).body.version).toBe(2);
    // The pupil is told both decisions on the requesting device: console-signed message commands.
    const told = [(await socket.next('command')).command.payload, (await socket.next('command')).command.payload];
    expect(told).toEqual([
      expect.objectContaining({
        action: 'message',
        deviceId: device.deviceId,
        issuedBy: 'console:app-requests',
        text: expect.stringMatching(/allowed "geogebra".*Note: for the maths unit/),
      }),
      expect.objectContaining({
        action: 'message',
        deviceId: device.deviceId,
        issuedBy: 'console:app-requests',
        text: expect.stringMatching(/request to use "game" was declined.*Note: not for school/),
      }),
    ]);

    const audit = (await consoleProc.api('/api/v1/audit')).body.audit as { action: string; target: string; detail: Record<string, unknown> }[];
    expect(audit.find((a) => a.action === 'app-request.approved')).toMatchObject({
      target: `app-request:${pending.id}`,
      detail: { policyVersion: 2, expiresAt },
    });
    expect(audit.find((a) => a.action === 'app-request.declined')).toMatchObject({ target: `app-request:${second}`, detail: { note: 'not for school' } });
  });

  it('queues at most 20 pending requests per device; the rest stay in its events', async () => {
    const events = Array.from({ length: 25 }, (_, n) => ({
      id: randomUUID(),
      seq: ++seq,
      at: new Date().toISOString(),
      type: 'app.permission-requested',
      data: body({ name: `spam-${n}` }),
    }));
    socket.send({ v: PROTOCOL_VERSION, type: 'events', events });
    await waitUntil(async () => (await consoleProc.api(`/api/v1/events?type=app.permission-requested&device=${device.deviceId}`)).body.events.length >= 27);
    // Every one of the 25 has been considered once the console has refused the last five.
    await waitUntil(() => ((consoleProc.proc.stdout + consoleProc.proc.stderr).match(/too many pending requests/g)?.length ?? 0) >= 5);
    expect((await consoleProc.api('/api/v1/app-requests?status=pending')).body.requests).toHaveLength(20);
  });
});
