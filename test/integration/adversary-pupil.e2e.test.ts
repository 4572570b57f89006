import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startConsoleProcess, ENROLL_TOKEN, type ConsoleHandle } from '../helpers/fleet.js';
import { CLI, REPO, startProcess, stopAll, tempDir, waitUntil, type Proc } from '../helpers/processes.js';
import { skipReason } from '../helpers/requirements.js';
import { account, asUser, killProbe, startProcessAs, stopProbes, type Account } from '../helpers/as-user.js';
import { killOnDisplay, missingXTools, startXvfb, xEnv, type XServer } from '../helpers/x11.js';

/**
 * Issue 15, the pupil's own account as adversary, with real processes: the agent service as
 * root controlling a real X session (Xvfb, xprintidle), the console, the "installed tray" (a
 * copy of node at the path given with --tray-executable) and hostile scripts, all run as a
 * pupil account made for this file (setpriv). Whatever a process of the pupil's says is a claim;
 * the service measures what it enforces on.
 */
const PEERCRED = join(REPO, 'native/peercred/build/Release/vigil_peercred.node');
const PROBE = join(REPO, 'test/helpers/tray-ipc-probe.mjs');
const PUPIL = 'vigil-adv-pupil';
const missingX = missingXTools();
const requirement =
  process.platform !== 'linux'
    ? 'Linux only (SO_PEERCRED, /proc/PID/exe)'
    : process.getuid?.() !== 0
      ? 'needs root (the service runs as root, the pupil as another user)'
      : !existsSync(PEERCRED)
        ? `the peer-credentials addon is not built (${PEERCRED})`
        : !existsSync(join(REPO, 'dist/src/agent/local-ipc/client.js'))
          ? 'dist/ is not built (node scripts/prepare.mjs)'
          : spawnSync('setpriv', ['--version']).status !== 0 || spawnSync('useradd', ['--help']).status !== 0
            ? 'setpriv and useradd are needed'
            : missingX.length
              ? `missing ${missingX.join(', ')}`
              : null;
const skip = skipReason('hostile pupil', requirement);

const execFileAsync = promisify(execFile);

describe.skipIf(skip)('the pupil cannot switch off what the service enforces (issue 15, points 1-5)', () => {
  let dir: ReturnType<typeof tempDir>;
  let x: XServer;
  let consoleProc: ConsoleHandle;
  let agent: Proc;
  let socket: string;
  let trayExe: string;
  let pupil: Account;
  let nobody: Account;
  let createdPupil = false;
  let deviceId: string;
  let pupilHome: string;
  /**
   * Runs the probe once as `who`, with node (a script of the pupil's) or the installed tray
   * executable. Asynchronously: a blocked event loop would keep fetch from seeing the console
   * close idle keep-alive connections.
   */
  const probeAs = async (who: Account, args: string[], exe = process.execPath, timeoutMs = 30_000): Promise<any[]> => {
    const { stdout } = await execFileAsync('setpriv', asUser(who, exe, [PROBE, ...args]), {
      cwd: '/',
      encoding: 'utf8',
      timeout: timeoutMs,
    });
    return stdout
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
  };
  const call = async (who: Account, op: string, fields: unknown = {}, exe?: string) =>
    (await probeAs(who, ['call', socket, op, JSON.stringify(fields)], exe))[0];
  const events = async (type: string) =>
    (await consoleProc.api(`/api/v1/events?device=${deviceId}&type=${type}&limit=1000`)).body.events.map((e: any) => e.event);
  const device = async () => (await consoleProc.api(`/api/v1/devices/${deviceId}`)).body.device;
  const pushPolicy = async (lockAfterIdleSeconds: number) => {
    const policy = {
      format: 'vigil-policy/1',
      name: `hostile pupil, idle lock ${lockAfterIdleSeconds} s`,
      agent: { heartbeatSeconds: 30, statusSeconds: 10 },
      session: { lockAfterIdleSeconds, logoffAfterLockedSeconds: 0, warningSeconds: 5 },
      tray: { onStopped: 'report', graceSeconds: 2 },
    };
    expect((await consoleProc.api('/api/v1/policies', { method: 'POST', body: JSON.stringify({ policy, expiresInDays: 1 }) })).status).toBe(201);
  };

  beforeAll(async () => {
    if (spawnSync('id', [PUPIL]).status !== 0) {
      execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', PUPIL]);
      createdPupil = true;
    }
    pupil = account(PUPIL);
    nobody = account('nobody');
    dir = tempDir();
    chmodSync(dir.path, 0o755);
    socket = join(dir.path, 'run', 'tray.sock');
    // The installed tray: an executable only root can write, at a path the service is told.
    mkdirSync(join(dir.path, 'bin'));
    trayExe = join(dir.path, 'bin', 'vigil-tray');
    copyFileSync(process.execPath, trayExe);
    chmodSync(trayExe, 0o755);
    pupilHome = join(dir.path, 'home');
    mkdirSync(pupilHome);
    chownSync(pupilHome, pupil.uid, pupil.gid);
    x = await startXvfb();
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
        '--tray-executable',
        trayExe,
        '--session-display',
        x.display,
        '--session-uid',
        String(pupil.uid),
      ],
      { VIGIL_BACKOFF_MAX_MS: '1000' },
    );
    [, deviceId] = (await agent.waitFor(/running as device ([0-9a-f-]{36})/)) as unknown as [string, string];
    await agent.waitFor(/tray socket listening/, 20_000, 'stderr');
    // Idle lock off until the idle test turns it on (a lock earlier would prove nothing there).
    await pushPolicy(0);
    await waitUntil(async () => (await device()).online && (await device()).policyVersion === 1, 30_000);
  });

  afterAll(async () => {
    await stopProbes();
    if (x) killOnDisplay(x.display, ['i3lock', 'xmessage']);
    await stopAll();
    await x?.stop();
    dir?.remove();
    if (createdPupil) spawnSync('userdel', [PUPIL]);
  });

  it('point 5: the service tells the installed tray from a script of the same user by the kernel, not by what it says', async () => {
    expect(await call(pupil, 'hello', { trayVersion: 'vigil-tray 1.0' })).toEqual({ ok: true, result: { user: PUPIL, sessionUser: true, tray: false } });
    expect(await call(pupil, 'hello', { trayVersion: 't' }, trayExe)).toEqual({ ok: true, result: { user: PUPIL, sessionUser: true, tray: true } });
    // The script is still answered for its user: only the tray's claims are refused to it.
    expect(await call(pupil, 'status')).toMatchObject({ ok: true, result: { user: PUPIL } });
    expect(await call(pupil, 'idle.report', { idleSeconds: 0, state: 'active' })).toMatchObject({ ok: false, code: 'not-the-tray' });
    expect(await call(pupil, 'power.report', { state: 'suspending' })).toMatchObject({ ok: false, code: 'not-the-tray' });
  });

  it('point 2: a hello held open by a script does not keep "tray stopped" from firing when the real tray is killed', async () => {
    const before = (await events('tray.stopped')).length;
    const script = startProcessAs(pupil, [PROBE, 'hold', socket]);
    await script.waitFor(/"tray":false/);
    const tray = startProcessAs(pupil, [PROBE, 'hold', socket], trayExe);
    await tray.waitFor(/"tray":true/);
    await killProbe(tray, 'SIGKILL');
    const stopped = await waitUntil(async () => {
      const all = await events('tray.stopped');
      return all.length > before ? all.at(-1) : null;
    }, 60_000);
    expect(stopped.data).toMatchObject({ user: PUPIL, action: 'reported' });
    expect(script.child.exitCode).toBeNull(); // the script's hello was open all along
    await killProbe(script);
  });

  it('point 2: "suspending" from the tray leaves the device online while its connection answers', async () => {
    await waitUntil(async () => (await device()).presence === 'online');
    expect(await call(pupil, 'power.report', { state: 'suspending' }, trayExe)).toEqual({ ok: true, result: { sent: true } });
    // Sync: an app request sent after the claim travels the same link; once the console has it, it has the claim.
    const game = join(pupilHome, 'sync-game');
    writeFileSync(game, 'sync');
    chownSync(game, pupil.uid, pupil.gid);
    const ask = { name: 'sync', path: game, sha256: 'a'.repeat(64), signer: 'unknown', reason: null };
    expect(await call(pupil, 'app.request', { ask })).toEqual({ ok: true, result: { queued: true } });
    await waitUntil(async () => (await events('app.permission-requested')).some((e: any) => e.data.path === game), 30_000);
    expect((await device()).presence).toBe('online');
    expect(await call(pupil, 'power.report', { state: 'awake' }, trayExe)).toEqual({ ok: true, result: { sent: true } });
  });

  it('point 3: an app request carries the hash and signer the service measured, not the ones the pupil claimed', async () => {
    const game = join(pupilHome, 'minecraft-launcher');
    writeFileSync(game, '#!/bin/sh\necho not really minecraft\n', { mode: 0o755 });
    chownSync(game, pupil.uid, pupil.gid);
    const real = createHash('sha256').update(readFileSync(game)).digest('hex');
    const forged = {
      name: 'Microsoft Teams',
      path: game,
      sha256: '0'.repeat(64),
      signer: 'publisher:CN=Microsoft Corporation, O=Microsoft Corporation, L=Redmond',
      reason: 'for homework',
    };
    expect(await call(pupil, 'app.request', { ask: forged })).toEqual({ ok: true, result: { queued: true } });
    const event = await waitUntil(async () => (await events('app.permission-requested')).find((e: any) => e.data.path === game), 30_000);
    expect(event.data).toMatchObject({
      path: game,
      sha256: real,
      signer: 'unknown',
      measured: true,
      claimed: { sha256: '0'.repeat(64), signer: forged.signer },
    });
    // The approval queue shows what was measured; approving "by signer" has no signer to approve.
    const request = await waitUntil(async () =>
      (await consoleProc.api('/api/v1/app-requests?status=pending')).body.requests?.find((r: any) => r.path === game),
    );
    expect(request).toMatchObject({ sha256: real, signer: 'unknown' });
    const bySigner = await consoleProc.api(`/api/v1/app-requests/${request.id}/approve`, { method: 'POST', body: JSON.stringify({ by: 'signer' }) });
    expect(bySigner.status).toBe(400);
    // Files the pupil cannot read, or that are not regular files, are refused and nothing is sent.
    const secret = join(dir.path, 'root-only');
    writeFileSync(secret, 'exam answers', { mode: 0o600 });
    const fifo = join(pupilHome, 'fifo');
    execFileSync('mkfifo', [fifo]);
    chownSync(fifo, pupil.uid, pupil.gid);
    for (const path of [secret, fifo, join(pupilHome, 'no-such-file'), 'relative/path']) {
      expect(await call(pupil, 'app.request', { ask: { ...forged, path } }), path).toMatchObject({ ok: false, code: 'not-readable' });
    }
  });

  it('point 4: 70 silent connections of one pupil neither lock out another user nor stay open', async () => {
    const flood = startProcessAs(pupil, [PROBE, 'silent', socket, '70', '15000']);
    // While the pupil's connections are open, another user is served.
    await new Promise((r) => setTimeout(r, 1000));
    expect(await call(nobody, 'status')).toMatchObject({ ok: true, result: { user: 'nobody' } });
    const result = JSON.parse(((await flood.waitFor(/\{"opened".*\}/, 60_000)) as string[])[0]!);
    // Those over the account's share were refused at once; the rest closed at the handshake deadline.
    expect(result).toEqual({ opened: 70, closedByService: 70 });
    // Counted and shown: the device status at the console carries the tray socket's drops.
    const shown = await waitUntil(async () => {
      const localIpc = (await device()).status?.localIpc;
      return localIpc && localIpc.refusedPerUser >= 62 && localIpc.handshakeTimeouts >= 8 ? localIpc : null;
    }, 60_000);
    expect(shown.notTheTray).toBeGreaterThanOrEqual(2);
  }, 180_000);

  it('point 1: "idle 0" every second from the tray executable itself does not keep the session from locking', async () => {
    // The worst case: the pupil runs the installed tray binary with a script (no fuses), so the identity check passes.
    const spam = startProcessAs(pupil, [PROBE, 'spam-idle', socket], trayExe);
    await spam.waitFor(/"idle":\{"recorded":true\}/);
    expect(await events('session.action')).toEqual([]); // nothing locked so far
    // Input now, so X's own idle time starts from zero; then the idle lock is switched on.
    execFileSync('xdotool', ['mousemove', '200', '200'], { env: xEnv(x.display) });
    await pushPolicy(12);
    const lock = await waitUntil(async () => (await events('session.action')).find((e: any) => e.data.action === 'lock' && e.data.reason === 'idle'), 120_000);
    expect(lock.data.action).toBe('lock');
    expect(spam.child.exitCode).toBeNull(); // the script was claiming "idle 0" all along
    await killProbe(spam);
  }, 240_000);
});
