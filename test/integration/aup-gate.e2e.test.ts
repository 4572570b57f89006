import { spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type AgentService } from '../../src/agent/service.js';
import { aupHash } from '../../src/shared/node/aup-verify.js';
import { createLogger } from '../../src/shared/node/log.js';
import { PROTOCOL_VERSION } from '../../src/shared/protocol.js';
import { ENROLL_TOKEN, startAgentProcess, startConsoleProcess, type ConsoleHandle } from '../helpers/fleet.js';
import { CLI, REPO, runCli, startProcess, stopAll, tempDir, waitUntil, type Proc } from '../helpers/processes.js';
import { connectAs, enrollRawDevice } from '../helpers/raw-device.js';
import { skipReason } from '../helpers/requirements.js';
import { writeUtmp } from '../helpers/x-session.js';
import { isRunning, killOnDisplay, missingXTools, startXvfb, type XServer } from '../helpers/x11.js';

/**
 * The AUP gate across devices, with real console and agent processes. Device A records an
 * acceptance (through `vigil agent aup accept`, the gate's own accept path); device B follows
 * sign-ins from a utmp file (written with utmpdump, read with the real `who`) on a real X
 * display and decides the gate for each user who signs in there: accepted elsewhere (asked the
 * console), pending (reported to the console, as no tray is connected), offline, new version.
 * Declining logs the session off: the real service's gate and session runner end an xterm
 * session under Xvfb.
 */
const missing = [...missingXTools(), ...['utmpdump', 'who'].filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0)];
const unavailable = skipReason(
  'AUP gate e2e',
  missing.length ? `missing ${missing.join(', ')} (apt-get install xvfb openbox x11-utils xterm util-linux)` : null,
);

let dir: ReturnType<typeof tempDir>;
let consoleProc: ConsoleHandle;
let x: XServer;
let agentA: Proc;
let agentB: Proc;
let utmp: string;
/** The hash of version 1, which pupil1 accepted. */
let v1Hash: string;
const env = () => ({ VIGIL_CONSOLE_URL: consoleProc.url, VIGIL_TOKEN: consoleProc.token });
const dataA = () => join(dir.path, 'agent-a');
const dataB = () => join(dir.path, 'agent-b');

/** Writes the utmp file B reads: one X sign-in of `user` on our display, at a distinct login time. */
let minute = 0;
const signIn = (user: string | null) => writeUtmp(utmp, x.display, user, ++minute);

const decided = (user: string, needed: boolean, reason: string) =>
  new RegExp(`AUP gate decided \\{"user":"${user}","needed":${needed},"reason":"${reason}"\\}`);

/** Events of one type stored at the console (newest first). */
async function events(type: string, console = consoleProc): Promise<any[]> {
  return (await console.api(`/api/v1/events?type=${type}`)).body.events.map((e: any) => e.event);
}

function startAgentB(): Proc {
  return startProcess(
    [CLI, 'agent', '--data-dir', dataB(), '--console', consoleProc.url, '--enroll-token', ENROLL_TOKEN, '--follow-sessions', '--utmp', utmp],
    {
      VIGIL_BACKOFF_MAX_MS: '500',
      VIGIL_SEAT_POLL_MS: '300',
    },
  );
}

describe.skipIf(unavailable !== null)('the AUP gate across devices', () => {
  beforeAll(async () => {
    dir = tempDir();
    utmp = join(dir.path, 'utmp');
    x = await startXvfb();
    signIn(null);
    consoleProc = await startConsoleProcess(join(dir.path, 'console'));
    expect((await runCli(['policy', 'push', join(REPO, 'policies/secondary-default.json')], env())).code).toBe(0);
    expect((await runCli(['aup', 'publish', join(REPO, 'policies/aup/secondary.md'), '--variant', 'secondary'], env())).code).toBe(0);
    agentA = startAgentProcess(dataA(), consoleProc.url);
    agentB = startAgentB();
    for (const d of [dataA(), dataB()])
      await waitUntil(
        () => existsSync(join(d, 'aup.json')),
        20_000,
        () => `${d} never received the AUP`,
      );
    await agentB.waitFor(/following sign-ins \{"lister":"utmp"\}/, 10_000, 'stderr');
  });

  afterAll(async () => {
    await stopAll();
    if (x) killOnDisplay(x.display, ['i3lock', 'xmessage']);
    await x?.stop();
    dir?.remove();
  });

  it('device A records an acceptance through the gate; a stale or altered text is refused', async () => {
    const held = JSON.parse(readFileSync(join(dataA(), 'aup.json'), 'utf8')).payload;
    const stale = await runCli(['agent', 'aup', 'accept', '--data-dir', dataA(), '--user', 'pupil1', '--name', 'Pat Pupil', '--version', '2']);
    expect(stale).toMatchObject({ code: 1, stderr: expect.stringMatching(/acceptance refused: the rules changed/) });
    const altered = await runCli(['agent', 'aup', 'accept', '--data-dir', dataA(), '--user', 'pupil1', '--name', 'Pat Pupil', '--hash', 'f'.repeat(64)]);
    expect(altered.code).toBe(1);
    const ok = await runCli(['agent', 'aup', 'accept', '--data-dir', dataA(), '--user', 'pupil1', '--name', 'Pat Pupil']);
    expect(ok.stdout).toMatch(/recorded pupil1's acceptance of secondary version 1; queued for the console/);
    const rows = await waitUntil(async () => {
      const r = (await consoleProc.api('/api/v1/aups/coverage')).body.rows;
      return r.length ? r : null;
    }, 15_000);
    expect(rows).toEqual([expect.objectContaining({ user: 'pupil1', version: 1, typedName: 'Pat Pupil', current: true })]);
    v1Hash = aupHash(held);
    expect((await runCli(['agent', 'aup', 'status', '--data-dir', dataA(), '--user', 'pupil1'])).stdout).toMatch(/pupil1: AUP not needed \(accepted-here\)/);
  });

  it('device B (online) lets pupil1 in without asking: accepted on another device, and remembers it', async () => {
    signIn('pupil1');
    await agentB.waitFor(decided('pupil1', false, 'accepted-elsewhere'), 15_000, 'stderr');
    // Remembered on B's disk (read here by another process, which never asks the console).
    expect((await runCli(['agent', 'aup', 'status', '--data-dir', dataB(), '--user', 'pupil1'])).stdout).toMatch(
      /pupil1: AUP not needed \(accepted-elsewhere\)/,
    );
  });

  it('a user who has not accepted is pending on B, reported to the console because no tray is connected', async () => {
    signIn('pupil2');
    await agentB.waitFor(decided('pupil2', true, 'not-accepted'), 15_000, 'stderr');
    const pending = await waitUntil(async () => (await events('aup.pending')).find((e) => e.data.user === 'pupil2'), 15_000);
    expect(pending.data).toEqual({ user: 'pupil2', variant: 'secondary', version: 1, reason: 'not-accepted', offline: false });
  });

  it('offline, B shows the cached AUP to a new user and still knows pupil1 accepted elsewhere', async () => {
    await consoleProc.stop();
    await agentB.waitFor(/disconnected from console/, 15_000, 'stderr');
    signIn('pupil3');
    await agentB.waitFor(decided('pupil3', true, 'not-accepted'), 15_000, 'stderr');
    signIn('pupil1');
    await waitUntil(
      () => (agentB.stderr.match(new RegExp(decided('pupil1', false, 'accepted-elsewhere').source, 'g')) ?? []).length >= 2,
      15_000,
      () => agentB.stderr.slice(-2000),
    );
    // The console comes back: the pending report made offline arrives, saying so.
    consoleProc = await startConsoleProcess(consoleProc.dataDir, { port: consoleProc.port });
    const pending = await waitUntil(async () => (await events('aup.pending')).find((e) => e.data.user === 'pupil3'), 20_000);
    expect(pending.data).toMatchObject({ user: 'pupil3', version: 1, offline: true });
  });

  it('publishing a new version makes the gate needed again on both devices', async () => {
    for (const agent of [agentA, agentB])
      await waitUntil(
        () => (agent.stderr.match(/INFO \[agent\/link\] connected to console/g) ?? []).length >= 2,
        15_000,
        () => agent.stderr.slice(-2000),
      );
    const published = await runCli(
      ['aup', 'publish', join(REPO, 'policies/aup/secondary.md'), '--variant', 'secondary', '--title', 'School ICT rules (revised)'],
      env(),
    );
    expect(published.stdout).toMatch(/as secondary version 2/);
    for (const d of [dataA(), dataB()]) {
      await waitUntil(
        () => JSON.parse(readFileSync(join(d, 'aup.json'), 'utf8')).payload.version === 2,
        15_000,
        () => `${d} kept version 1`,
      );
    }
    expect((await runCli(['agent', 'aup', 'status', '--data-dir', dataA(), '--user', 'pupil1'])).stdout).toMatch(
      /pupil1: AUP needed \(new-version\): secondary version 2/,
    );
    // pupil1 is still signed in on B: asked again at once, not at the next sign-in.
    const pending = await waitUntil(async () => (await events('aup.pending')).find((e) => e.data.user === 'pupil1'), 15_000);
    expect(pending.data).toMatchObject({ version: 2, reason: 'new-version', offline: false });
    signIn('pupil1');
    await waitUntil(
      () => (agentB.stderr.match(new RegExp(decided('pupil1', true, 'new-version').source, 'g')) ?? []).length >= 2,
      15_000,
      () => agentB.stderr.slice(-2000),
    );
  });

  it('the console answers only about the current text, yes/no, bounded per connection; bad questions change nothing', async () => {
    const raw = await enrollRawDevice(consoleProc.url, 'lab-raw');
    const socket = await connectAs(consoleProc.url, raw);
    socket.send({ v: PROTOCOL_VERSION, type: 'hello', agentVersion: 'test', policyVersion: null, policyDigest: null, mode: 'service', capabilities: [] });
    const current = aupHash((await socket.next('aup')).aup.payload);
    // A device on A's side accepts v2 so there is a yes to give.
    expect((await runCli(['agent', 'aup', 'accept', '--data-dir', dataA(), '--user', 'pupil4', '--name', 'Sam Pupil'])).code).toBe(0);
    await waitUntil(async () => (await consoleProc.api('/api/v1/aups/coverage')).body.rows.some((r: any) => r.user === 'pupil4'), 15_000);
    socket.send({ v: PROTOCOL_VERSION, type: 'aup.query', user: 'pupil4', aupHash: current });
    const yes = await socket.next('aup.status');
    expect(yes).toEqual({ v: 1, type: 'aup.status', user: 'pupil4', aupHash: current, accepted: true, acceptedAt: expect.any(String), refused: null });
    // Only the current text is answered for: not version 1 (which pupil1 did accept), not made-up texts.
    for (const hash of [v1Hash, '1'.repeat(64)]) {
      socket.send({ v: PROTOCOL_VERSION, type: 'aup.query', user: 'pupil1', aupHash: hash });
      expect(await socket.next('aup.status')).toEqual({
        v: 1,
        type: 'aup.status',
        user: 'pupil1',
        aupHash: hash,
        accepted: false,
        acceptedAt: null,
        refused: 'not-current',
      });
    }
    // Malformed questions: an error frame, nothing else.
    socket.send({ v: PROTOCOL_VERSION, type: 'aup.query', user: '', aupHash: current });
    expect(await socket.next('error')).toMatchObject({ code: 'invalid' });
    socket.send({ v: PROTOCOL_VERSION, type: 'aup.query', user: 'pupil4', aupHash: 'not-a-hash' });
    expect(await socket.next('error')).toMatchObject({ code: 'invalid' });
    // A sweep is cut short: past the burst, questions are refused as rate-limited.
    for (let i = 0; i < 40; i++) socket.send({ v: PROTOCOL_VERSION, type: 'aup.query', user: `sweep${i}`, aupHash: current });
    const answers = [];
    for (let i = 0; i < 40; i++) answers.push(await socket.next('aup.status'));
    const limited = answers.filter((a) => a.refused === 'rate-limited');
    expect(limited.length).toBeGreaterThanOrEqual(10);
    expect(limited.every((a) => a.accepted === false && a.acceptedAt === null)).toBe(true);
    socket.ws.close();
    // The console is still serving.
    expect((await consoleProc.api('/api/v1/aups')).status).toBe(200);
  });
});

describe.skipIf(unavailable !== null)('declining the AUP', () => {
  let x2: XServer;
  let consoleForDecline: ConsoleHandle;
  let service: AgentService;
  let app: ChildProcess;
  let wm: ChildProcess;
  const dir2 = tempDir();

  beforeAll(async () => {
    x2 = await startXvfb();
    wm = x2.client('openbox');
    app = x2.client('xterm', ['-geometry', '80x24+100+100', '-title', 'pupil-session']);
    await waitUntil(
      () => x2.windowExists('pupil-session'),
      15_000,
      () => `xterm window never appeared (xterm exit ${app.exitCode} ${app.signalCode}, openbox exit ${wm.exitCode} ${wm.signalCode})`,
    );
    consoleForDecline = await startConsoleProcess(join(dir2.path, 'console'));
    expect(
      (
        await runCli(['policy', 'push', join(REPO, 'policies/secondary-default.json')], {
          VIGIL_CONSOLE_URL: consoleForDecline.url,
          VIGIL_TOKEN: consoleForDecline.token,
        })
      ).code,
    ).toBe(0);
    expect(
      (
        await runCli(['aup', 'publish', join(REPO, 'policies/aup/secondary.md'), '--variant', 'secondary'], {
          VIGIL_CONSOLE_URL: consoleForDecline.url,
          VIGIL_TOKEN: consoleForDecline.token,
        })
      ).code,
    ).toBe(0);
    // The real service, in this process (which has no DISPLAY, so it is never part of the session).
    service = await startAgent({
      dataDir: join(dir2.path, 'agent'),
      consoleUrl: consoleForDecline.url,
      enrollToken: ENROLL_TOKEN,
      mode: 'service',
      log: createLogger('decline-test', 'warn'),
      backoffMaxMs: 500,
      session: { target: { display: x2.display, uid: process.getuid!() }, ownership: 'school' },
    });
    await waitUntil(
      () => existsSync(join(dir2.path, 'agent', 'aup.json')),
      15_000,
      () => 'no AUP reached the service',
    );
  });

  afterAll(async () => {
    await service?.stop();
    killOnDisplay(x2.display, ['i3lock', 'xmessage']);
    await x2?.stop();
    await stopAll();
    dir2.remove();
  });

  it('is refused for a user who is not the one in the controlled session', async () => {
    const gate = service.aupGate;
    await waitUntil(async () => (await gate.decide('root')).needed, 10_000);
    // The page names the school from the policy (policies/secondary-default.json).
    const decision = await gate.decide('root');
    expect(decision.needed && decision.page.school).toBe('Example Secondary School');
    expect(await gate.decline('someone-else')).toMatchObject({ ok: false, message: expect.stringMatching(/not the user of the session/) });
    expect(isRunning(app)).toBe(true);
  });

  it("logs the user off at once: the session's processes end, and the console hears why", async () => {
    const gate = service.aupGate;
    expect(await gate.decline('root')).toEqual({ ok: true });
    await waitUntil(
      () => !isRunning(app) && !isRunning(wm),
      10_000,
      () => 'the session processes are still running',
    );
    // The refused decline above is an event too (logoff false): wait for this one, by user.
    const declined = await waitUntil(async () => (await events('aup.declined', consoleForDecline)).find((e) => e.data.user === 'root'), 15_000);
    expect(declined.data).toMatchObject({ user: 'root', variant: 'secondary', version: 1, logoff: true });
    const logoff = await waitUntil(async () => (await events('session.action', consoleForDecline)).find((e) => e.data.action === 'logoff'), 15_000);
    expect(logoff.data).toMatchObject({ reason: 'aup-declined', ok: true, backend: 'kill-session-processes' });
  });
});
