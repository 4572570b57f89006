import { randomUUID, type KeyObject } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { skipReason } from '../helpers/requirements.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MESSAGE_TITLE, WARNING_TITLE } from '../../src/agent/platform/linux/session/index.js';
import type { CommandPayload } from '../../src/shared/command.js';
import { generateEd25519KeyPair } from '../../src/shared/node/crypto.js';
import { signedCommand } from '../helpers/commands.js';
import type { ConsoleHandle } from '../helpers/fleet.js';
import { startImpostorConsole, type ImpostorConsole } from '../helpers/impostor-console.js';
import { runCli, stopAll, type Proc, type tempDir, waitUntil } from '../helpers/processes.js';
import { publishPolicy, startXSessionRig, xterm, type XSessionRig } from '../helpers/x-session.js';
import { isRunning, killOnDisplay, missingXTools, pidsOnDisplay, type XServer } from '../helpers/x11.js';

/**
 * Console commands end to end: a real console process, a real agent process controlling a real
 * X session (Xvfb + openbox + xterm), the API and the CLI. Then the console is replaced by one
 * holding its key, to send what the real console never would: replays and tampered commands.
 */
const missing = missingXTools();
const unavailable = skipReason('console command e2e', missing.length ? `missing ${missing.join(', ')}` : null);

describe.skipIf(unavailable !== null)('lock, log off and message commands through console and agent', () => {
  let dir: ReturnType<typeof tempDir>;
  let x: XServer;
  let app: ChildProcess;
  let consoleProc: ConsoleHandle;
  let agent: Proc;
  let deviceId: string;
  let rig: XSessionRig;
  let impostor: ImpostorConsole | null = null;
  const command = (body: unknown, token?: string) =>
    consoleProc.api(`/api/v1/devices/${deviceId}/commands`, { method: 'POST', body: JSON.stringify(body), ...(token ? { token } : {}) });

  beforeAll(async () => {
    rig = await startXSessionRig({ apps: [xterm('pupil-session', '80x24+100+100')] });
    ({ dir, x, console: consoleProc, agent, deviceId } = rig);
    app = rig.apps[0]!;
    await publishPolicy(rig, { name: 'commands test', session: { lockAfterIdleSeconds: 0, logoffAfterLockedSeconds: 0, warningSeconds: 5 } });
    await waitUntil(async () => (await consoleProc.api(`/api/v1/devices/${deviceId}`)).body.device.online, 15_000);
  });

  afterAll(async () => {
    await impostor?.close().catch(() => undefined);
    // Lockers and windows the agent started on our private display first, so the agent reaps them.
    if (x) killOnDisplay(x.display, ['i3lock', 'xmessage']);
    await new Promise((r) => setTimeout(r, 300));
    await stopAll(); // console and agent, by PID
    await x?.stop();
    dir?.remove();
  });

  it('only technicians and admins may send commands', async () => {
    for (const [username, role] of [
      ['dsl', 'safeguarding_lead'],
      ['tech', 'technician'],
    ] as const) {
      expect(
        (await consoleProc.api('/api/v1/users', { method: 'POST', body: JSON.stringify({ username, password: 'a-long-enough-password-1', role }) })).status,
      ).toBe(201);
    }
    const login = async (username: string) =>
      (await consoleProc.api('/api/v1/login', { method: 'POST', body: JSON.stringify({ username, password: 'a-long-enough-password-1' }), token: null })).body
        .token as string;
    expect((await command({ action: 'lock' }, await login('dsl'))).status).toBe(403);
    expect((await command({ action: 'message' })).status).toBe(400); // message needs text
    expect((await command({ action: 'lock', extra: 1 })).status).toBe(400);
    const post = (path: string) => consoleProc.api(path, { method: 'POST', body: JSON.stringify({ action: 'lock' }) });
    expect((await post(`/api/v1/devices/${randomUUID()}/commands`)).status).toBe(404);
    expect((await post('/api/v1/devices/not-a-device/commands')).status).toBe(400);
    expect((await consoleProc.api('/api/v1/audit?limit=100')).body.audit.filter((a: { action: string }) => a.action === 'device.command')).toEqual([]);
    const sent = await command({ action: 'message', text: 'Please come to the IT desk at break.' }, await login('tech'));
    expect(sent.status).toBe(200);
    expect(sent.body.result).toMatchObject({ outcome: 'done', backend: 'xmessage' });
    await waitUntil(
      () => x.windowExists(MESSAGE_TITLE),
      10_000,
      () => 'message window never appeared',
    );
    x.screenshot('command-message');
  });

  it('log off: the pupil sees the countdown, then the session ends', async () => {
    const pending = command({ action: 'logoff' });
    await waitUntil(
      () => x.windowExists(WARNING_TITLE),
      10_000,
      () => 'no countdown window',
    );
    x.screenshot('command-logoff-countdown');
    expect(isRunning(app)).toBe(true);
    const done = await pending;
    expect(done.status).toBe(200);
    expect(done.body.result).toMatchObject({ outcome: 'done', backend: 'kill-session-processes' });
    await waitUntil(
      () => !isRunning(app),
      10_000,
      () => 'xterm survived the logoff',
    );
  });

  it('lock now, with the CLI', async () => {
    const r = await runCli(['device', 'lock', deviceId], { VIGIL_CONSOLE_URL: consoleProc.url, VIGIL_TOKEN: consoleProc.token });
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/lock done on .* via i3lock/);
    expect(pidsOnDisplay('i3lock', x.display).length).toBeGreaterThan(0);
    x.screenshot('command-locked');
  });

  it('every command and its result is in the audit trail, and the backends are reported', async () => {
    const audit = (await consoleProc.api('/api/v1/audit?limit=100')).body.audit as { action: string; actor: string; detail: Record<string, unknown> }[];
    const issued = audit.filter((a) => a.action === 'device.command').map((a) => a.detail.action);
    const results = audit.filter((a) => a.action === 'device.command-result').map((a) => [a.detail.action, a.detail.outcome]);
    expect(issued.sort()).toEqual(['lock', 'logoff', 'message']);
    expect(results.sort()).toEqual([
      ['lock', 'done'],
      ['logoff', 'done'],
      ['message', 'done'],
    ]);
    await waitUntil(async () => (await consoleProc.api(`/api/v1/events?device=${deviceId}&type=session.backends`)).body.events.length > 0, 10_000);
    const events = (await consoleProc.api(`/api/v1/events?device=${deviceId}&type=session.backends`)).body.events;
    expect(events[0].event.data).toMatchObject({ platform: 'linux', idle: 'xprintidle + tray report (may only add)', warning: 'xmessage' });
  });

  it('a replayed, tampered, misdirected or foreign-signed command is refused', async () => {
    await consoleProc.stop();
    impostor = await startImpostorConsole(join(dir.path, 'console'), consoleProc.port);
    const ws = await impostor.waitForAuth();
    const make = (overrides: Partial<CommandPayload> = {}, key: { privateKey: KeyObject | string; publicKey: string } = impostor!) =>
      signedCommand(deviceId, key, { action: 'message', text: 'hello', ...overrides });
    const send = async (cmd: unknown, id: string) => {
      const before = impostor!.received.length;
      ws.send(JSON.stringify({ v: 1, type: 'command', command: cmd }));
      return waitUntil(
        () => impostor!.received.slice(before).find((m) => m.type === 'command.result' && m.id === id),
        10_000,
        () => `no result for ${id}`,
      );
    };
    const genuine = make();
    expect(await send(genuine, genuine.payload.id)).toMatchObject({ outcome: 'done' });
    expect(await send(genuine, genuine.payload.id)).toMatchObject({ outcome: 'replayed' });
    const tampered = make();
    const forged = { ...tampered, payload: { ...tampered.payload, action: 'logoff', text: undefined } };
    delete (forged.payload as { text?: string }).text;
    expect(await send(forged, tampered.payload.id)).toMatchObject({ outcome: 'bad-signature' });
    const other = make({ deviceId: randomUUID() });
    expect(await send(other, other.payload.id)).toMatchObject({ outcome: 'wrong-device' });
    const stranger = generateEd25519KeyPair();
    const foreign = make({}, { privateKey: stranger.privateKeyPem, publicKey: stranger.publicKey });
    expect(await send(foreign, foreign.payload.id)).toMatchObject({ outcome: 'bad-signature' });
    expect(agent.child.exitCode).toBeNull();
  });
});
