import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IPC_LIMITS } from '../../src/shared/local-ipc.js';
import { TrayIpcClient } from '../../src/agent/local-ipc/client.js';
import { startConsoleProcess, ENROLL_TOKEN, type ConsoleHandle } from '../helpers/fleet.js';
import { CLI, REPO, startProcess, stopAll, tempDir, waitUntil, type Proc } from '../helpers/processes.js';
import { skipReason } from '../helpers/requirements.js';
import { account, asUser, killProbe, startProcessAs, stopProbes, type Account } from '../helpers/as-user.js';

/**
 * The tray's local IPC with real processes: the agent service as root (`vigil agent
 * --tray-socket`), trays as other users (setpriv to `nobody` and to a test pupil account made
 * for this file). The kernel's peer credentials decide who is asking; the tray checks that the
 * service is root. Concerns travel tray -> service -> console into the safeguarding queue.
 */
const PEERCRED = join(REPO, 'native/peercred/build/Release/vigil_peercred.node');
const PROBE = join(REPO, 'test/helpers/tray-ipc-probe.mjs');
const PUPIL = 'vigil-tray-pupil';
const requirement =
  process.platform !== 'linux'
    ? 'Linux only (SO_PEERCRED)'
    : process.getuid?.() !== 0
      ? 'needs root (the service runs as root, trays as other users)'
      : !existsSync(PEERCRED)
        ? `the peer-credentials addon is not built (${PEERCRED})`
        : !existsSync(join(REPO, 'dist/src/agent/local-ipc/client.js'))
          ? 'dist/ is not built (node scripts/prepare.mjs)'
          : spawnSync('setpriv', ['--version']).status !== 0 || spawnSync('useradd', ['--help']).status !== 0
            ? 'setpriv and useradd are needed'
            : null;
const skip = skipReason('tray IPC', requirement);

/** Runs the probe as `who` and returns its JSON lines. */
function probeAs(who: Account, args: string[], timeoutMs = 20_000): any[] {
  const result = spawnSync('setpriv', asUser(who, process.execPath, [PROBE, ...args]), {
    cwd: '/',
    encoding: 'utf8',
    timeout: timeoutMs,
  });
  if (result.status !== 0) throw new Error(`probe failed (${result.status}): ${result.stderr}`);
  return result.stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}
const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');

describe.skipIf(skip)('tray IPC between users and the root service', () => {
  let dir: ReturnType<typeof tempDir>;
  let consoleProc: ConsoleHandle;
  let agent: Proc;
  let socket: string;
  let nobody: Account;
  let pupil: Account;
  let createdPupil = false;
  let deviceId: string;
  let restartMarker: string;
  const call = (who: Account, op: string, fields: unknown = {}) => probeAs(who, ['call', socket, op, JSON.stringify(fields)])[0];
  const post = (path: string, payload: unknown, token?: string) =>
    consoleProc.api(path, { method: 'POST', body: JSON.stringify(payload), ...(token ? { token } : {}) });
  const signIn = async (username: string, role: string) => {
    await post('/api/v1/users', { username, password: `a-long-password-for-${username}`, role });
    return (await post('/api/v1/login', { username, password: `a-long-password-for-${username}` }, undefined)).body.token as string;
  };

  beforeAll(async () => {
    if (spawnSync('id', [PUPIL]).status !== 0) {
      execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', PUPIL]);
      createdPupil = true;
    }
    nobody = account('nobody');
    pupil = account(PUPIL);
    dir = tempDir();
    chmodSync(dir.path, 0o755); // other users must reach the socket below it
    socket = join(dir.path, 'run', 'tray.sock');
    // Where the restarted "tray" (a script run as the pupil) leaves its mark.
    const markDir = join(dir.path, 'marks');
    mkdirSync(markDir);
    chownSync(markDir, pupil.uid, pupil.gid);
    restartMarker = join(markDir, 'restarted');
    const trayCommand = join(dir.path, 'fake-tray.sh');
    writeFileSync(trayCommand, `#!/bin/sh\nid -u > ${restartMarker}\n`, { mode: 0o755 });
    consoleProc = await startConsoleProcess(join(dir.path, 'console'));
    agent = startProcess(
      [
        CLI,
        'agent',
        '--data-dir',
        join(dir.path, 'agent'),
        '--console',
        consoleProc.url,
        '--enroll-token',
        ENROLL_TOKEN,
        '--tray-socket',
        socket,
        '--tray-command',
        trayCommand,
        '--session-display',
        ':99',
        '--session-uid',
        String(pupil.uid),
      ],
      { VIGIL_BACKOFF_MAX_MS: '1000' },
    );
    [, deviceId] = (await agent.waitFor(/running as device ([0-9a-f-]{36})/)) as unknown as [string, string];
    await agent.waitFor(/tray socket listening/, 20_000, 'stderr');
  });

  afterAll(async () => {
    await stopProbes();
    await stopAll();
    dir?.remove();
    if (createdPupil) spawnSync('userdel', [PUPIL]);
  });

  it('binds every request to the uid the kernel reports, not to anything in the message', async () => {
    // No --tray-executable here: the service has nothing to check the peer's program against (tray: null).
    expect(call(nobody, 'hello', { trayVersion: 't' })).toEqual({ ok: true, result: { user: 'nobody', sessionUser: false, tray: null } });
    expect(call(pupil, 'hello', { trayVersion: 't' })).toEqual({ ok: true, result: { user: PUPIL, sessionUser: true, tray: null } });
    const status = call(nobody, 'status');
    expect(status).toMatchObject({ ok: true, result: { user: 'nobody', mode: 'service' } });
    // A message cannot name another user: the schema has no such field.
    const smuggled = probeAs(nobody, ['raw', socket, b64(JSON.stringify({ id: 5, op: 'status', user: 'root' }) + '\n')])[0];
    expect(smuggled.lines).toEqual([expect.objectContaining({ id: 5, ok: false, code: 'malformed' })]);
  });

  it("refuses another user's requests that act on the pupil's session; the session's user may make them", async () => {
    expect(call(nobody, 'lock.now')).toMatchObject({ ok: false, code: 'not-your-session' });
    expect(call(nobody, 'aup.decline')).toMatchObject({ ok: false, code: 'not-your-session' });
    const own = call(pupil, 'lock.now');
    // No display here, so the lock itself fails, but the request is the pupil's to make.
    expect(own.ok).toBe(true);
    expect(own.result).toEqual({ locked: expect.any(Boolean), detail: expect.any(String) });
  });

  it("the pupil's tray may report suspend (a claim: the console keeps an answering device online); another user's tray cannot", async () => {
    const device = async () => (await consoleProc.api(`/api/v1/devices/${deviceId}`)).body.device;
    await waitUntil(async () => (await device()).presence === 'online');
    expect(call(nobody, 'power.report', { state: 'suspending' })).toMatchObject({ ok: false, code: 'not-your-session' });
    expect(call(nobody, 'idle.report', { idleSeconds: 1, state: 'active' })).toMatchObject({ ok: false, code: 'not-your-session' });
    expect(call(pupil, 'power.report', { state: 'hibernating' })).toMatchObject({ ok: false, code: 'malformed' });
    expect(call(pupil, 'idle.report', { idleSeconds: 12, state: 'active' })).toEqual({ ok: true, result: { recorded: true } });
    expect((await device()).presence).toBe('online');
    expect(call(pupil, 'power.report', { state: 'suspending' })).toEqual({ ok: true, result: { sent: true } });
    // The console heard the claim (logged), and shows the device online while its link answers (issue 15, point 2).
    await waitUntil(() => /power state.*suspending|suspending.*power state/.test(agent.stderr));
    expect(call(pupil, 'power.report', { state: 'awake' })).toEqual({ ok: true, result: { sent: true } });
    expect((await device()).presence).toBe('online');
    expect(agent.child.exitCode).toBeNull();
  });

  it('answers malformed input with an error, closes on oversized messages, and keeps serving', async () => {
    const junk = probeAs(nobody, ['raw', socket, b64('this is not json\n{"id":1}\n{"id":2,"op":"status"}\n')])[0];
    expect(junk.closed).toBe(false);
    expect(junk.lines).toEqual([
      expect.objectContaining({ id: null, ok: false, code: 'malformed' }),
      expect.objectContaining({ id: 1, ok: false, code: 'malformed' }),
      expect.objectContaining({ id: 2, ok: true, result: expect.objectContaining({ user: 'nobody' }) }),
    ]);
    const huge = probeAs(nobody, ['raw', socket, b64(Buffer.alloc(IPC_LIMITS.requestLineBytes + 10, 'a')), '5000'])[0];
    expect(huge.lines).toEqual([expect.objectContaining({ ok: false, code: 'too-large' })]);
    expect(huge.closed).toBe(true);
    const concernTooLong = call(nobody, 'concern.report', { submission: { category: 'other', text: '', wantsContact: false } });
    expect(concernTooLong).toMatchObject({ ok: false, code: 'malformed' });
    expect(agent.child.exitCode).toBeNull();
    expect(call(nobody, 'status')).toMatchObject({ ok: true });
  });

  it("the tray refuses a socket that is not root's, and a root-owned socket served by someone else", async () => {
    const fakeDir = join(dir.path, 'impostor');
    mkdirSync(fakeDir);
    chownSync(fakeDir, pupil.uid, pupil.gid);
    const fake = join(fakeDir, 'tray.sock');
    const serving = startProcessAs(pupil, [PROBE, 'serve', fake]);
    await serving.waitFor(/listening/);
    await expect(TrayIpcClient.connect({ path: fake })).rejects.toThrow(/belongs to uid \d+, not 0/);
    // Make the file and directory root's: the kernel still says who is listening.
    chownSync(fake, 0, 0);
    chownSync(fakeDir, 0, 0);
    await expect(TrayIpcClient.connect({ path: fake })).rejects.toThrow(/runs as uid \d+, not 0: not the Vigil service/);
    await killProbe(serving);
    // The real service passes both checks.
    const real = await TrayIpcClient.connect({ path: socket });
    expect((await real.call('status', {})).user).toBe('root');
    real.close();
  });

  it("a concern reaches the safeguarding lead's queue only, named by the kernel's uid", async () => {
    const text = `Someone keeps messaging me after school ${Date.now()}`;
    expect(call(pupil, 'concern.report', { submission: { category: 'about-me', text, wantsContact: true } })).toEqual({ ok: true, result: { queued: true } });
    const dsl = await signIn('dsl', 'safeguarding_lead');
    const concerns = await waitUntil(async () => {
      const r = await consoleProc.api('/api/v1/concerns', { token: dsl });
      return r.status === 200 && r.body.concerns.length ? r.body.concerns : null;
    });
    expect(concerns).toEqual([expect.objectContaining({ deviceId, user: PUPIL, category: 'about-me', text, wantsContact: true, status: 'new' })]);
    const id = concerns[0].id;
    for (const [name, role] of [
      ['tech', 'technician'],
      ['sysman', 'systems_manager'],
    ] as const) {
      const token = await signIn(name, role);
      expect((await consoleProc.api('/api/v1/concerns', { token })).status).toBe(403);
      expect((await post(`/api/v1/concerns/${id}`, { status: 'closed' }, token)).status).toBe(403);
    }
    expect((await consoleProc.api('/api/v1/concerns')).status).toBe(403); // admin
    expect((await post(`/api/v1/concerns/${id}`, { status: 'closed' })).status).toBe(403);
    // Not in the general events, whatever the filter.
    const events = await consoleProc.api(`/api/v1/events?device=${deviceId}&limit=1000`);
    expect(events.status).toBe(200);
    expect(JSON.stringify(events.body)).not.toContain(text);
    expect(events.body.events.some((e: any) => e.event.type === 'concern.reported')).toBe(false);
    // Stored, in the concerns table (and the events table has no row for it at all).
    const db = new Database(join(consoleProc.dataDir, 'console.db'), { readonly: true });
    expect(db.prepare('SELECT text FROM concerns WHERE id = ?').get(id)).toEqual({ text });
    expect(db.prepare("SELECT COUNT(*) AS n FROM events WHERE body LIKE '%' || ? || '%' OR type = 'concern.reported'").get(text)).toEqual({ n: 0 });
    db.close();
    // The lead updates it; bad updates change nothing; the change is audited without the note's words.
    expect((await post(`/api/v1/concerns/${id}`, { status: 'maybe' }, dsl)).status).toBe(400);
    expect((await post('/api/v1/concerns/not-an-id', { status: 'closed' }, dsl)).status).toBe(400);
    const updated = await post(`/api/v1/concerns/${id}`, { status: 'in-progress', note: 'spoke to the form tutor' }, dsl);
    expect(updated).toMatchObject({ status: 200, body: { concern: { id, status: 'in-progress', note: 'spoke to the form tutor', updatedBy: 'dsl' } } });
    const audit = (await consoleProc.api('/api/v1/audit')).body.audit;
    const entry = audit.find((a: any) => a.action === 'concern.updated');
    expect(entry).toMatchObject({ actor: 'dsl', target: `concern:${id}`, detail: { from: 'new', to: 'in-progress', noteChanged: true } });
    expect(JSON.stringify(audit)).not.toContain('form tutor');
  });

  it('notices a killed tray, reports it, and starts it again as the pupil (policy: restart)', async () => {
    expect(
      (await post('/api/v1/policies', { policy: { format: 'vigil-policy/1', name: 'tray watch', tray: { onStopped: 'restart', graceSeconds: 2 } } })).status,
    ).toBe(201);
    await agent.waitFor(/applied policy/, 20_000, 'stderr');
    const tray = startProcessAs(pupil, [PROBE, 'hold', socket]);
    await tray.waitFor(/"sessionUser":true/);
    await killProbe(tray, 'SIGKILL');
    const event = await waitUntil(async () => {
      const r = await consoleProc.api(`/api/v1/events?device=${deviceId}&type=tray.stopped`);
      return r.body.events[0]?.event;
    }, 30_000);
    expect(event.data).toMatchObject({ user: PUPIL, action: 'restarted', ok: true });
    await waitUntil(() => existsSync(restartMarker) && readFileSync(restartMarker, 'utf8').trim());
    expect(readFileSync(restartMarker, 'utf8').trim()).toBe(String(pupil.uid));
  });

  it("another user's tray going away is not the session's tray and is not acted on", async () => {
    // Counted by user: the pupil's restarted tray from the test above may still be reported.
    const stoppedFor = async (user: string) =>
      (await consoleProc.api(`/api/v1/events?device=${deviceId}&type=tray.stopped`)).body.events.filter((e: any) => e.event.data.user === user).length;
    const other = startProcessAs(nobody, [PROBE, 'hold', socket]);
    await other.waitFor(/"sessionUser":false/);
    await killProbe(other, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 3500));
    expect(await stoppedFor('nobody')).toBe(0);
  });
});
