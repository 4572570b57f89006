import { existsSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SocketServiceConnection } from '../../main/service-connection.js';
import { registerPageScheme, TrayApp } from '../../main/tray-app.js';
import type { AupGateApi, AupGateDecision } from '../../src/agent/aup/gate-api.js';
import { IpcCallError, TrayIpcClient } from '../../src/agent/local-ipc/client.js';
import { loadPeercredAddon, peerCheckFor, socketFd, socketPeerCredentials } from '../../src/agent/local-ipc/peercred.js';
import { trayClientTransport, trayServerTransport, type TrayPlatform } from '../../src/agent/local-ipc/transport.js';
import { TrayIpcServer } from '../../src/agent/local-ipc/server.js';
import { TrayRequests, type TrayServiceHost } from '../../src/agent/local-ipc/tray-requests.js';
import { TrayWatch } from '../../src/agent/local-ipc/tray-watch.js';
import { userName as passwdName } from '../../src/agent/platform/linux/proc-user.js';
import { startTrayIpc, type TrayIpcOptions } from '../../src/agent/local-ipc/tray-ipc.js';
import { measuredIdle, TrayIdleReports } from '../../src/agent/session/tray-idle.js';
import { InProcessServiceConnection } from '../../main/in-process-connection.js';
import { IPC_LIMITS, TRAY_PIPE_NAME, type ServiceNotice } from '../../src/shared/local-ipc.js';
import type { AupAcceptRequest } from '../../src/shared/aup-bridge.js';
import type { NewAgentEvent } from '../../src/shared/events.js';
import { LineSplitter } from '../../src/agent/local-ipc/framing.js';
import { createLogger } from '../../src/shared/node/log.js';
import { monitoredNow, monitoredSummary } from '../../src/shared/monitoring-words.js';
import { describeSharing } from '../../src/shared/activity-words.js';
import { MonitoringStateSchema } from '../../src/shared/local-ipc.js';
import { TRAY_CHANNELS } from '../../src/shared/tray-bridge.js';
import { FakeElectron } from '../helpers/fake-electron.js';
import { REPO, tempDirsPerTest, waitUntil } from '../helpers/processes.js';
import { skipReason } from '../helpers/requirements.js';

const log = createLogger('tray-ipc-test', 'error');
const tempDir = tempDirsPerTest();

describe('line framing', () => {
  it('splits lines across chunks and drops an oversized one up to its newline', () => {
    const lines: string[] = [];
    let oversize = 0;
    const splitter = new LineSplitter(
      10,
      (l) => lines.push(l),
      () => oversize++,
    );
    splitter.push(Buffer.from('{"a"'));
    splitter.push(Buffer.from(':1}\n\n{"b":2}\nxxxxxxxx'));
    expect(splitter.pending).toBe(true);
    splitter.push(Buffer.from('xxxxxxxxxxxxxxx'));
    splitter.push(Buffer.from('yyy\n{"c":3}\n'));
    expect(lines).toEqual(['{"a":1}', '{"b":2}', '{"c":3}']);
    expect(oversize).toBe(1);
    expect(splitter.pending).toBe(false);
  });
});

describe('tray watch', () => {
  function harness(policy: { onStopped: 'restart' | 'lock' | 'report'; graceSeconds: number }, restartOk = true, withLock = true) {
    const timers: { fn: () => void; ms: number; cancelled: boolean }[] = [];
    const events: NewAgentEvent[] = [];
    const actions: string[] = [];
    const watch = new TrayWatch({
      policy: () => policy,
      emit: (e) => events.push(e),
      restart: async (tray) => (
        actions.push(`restart:${tray.user}:${tray.gid}`),
        restartOk ? { ok: true, detail: 'started' } : { ok: false, detail: 'no tray command' }
      ),
      lock: withLock ? async () => (actions.push('lock'), { ok: true, detail: 'i3lock' }) : null,
      log,
      setTimer: (fn, ms) => {
        const t = { fn, ms, cancelled: false };
        timers.push(t);
        return { cancel: () => void (t.cancelled = true) };
      },
    });
    const fire = async () => {
      for (const t of timers.splice(0)) if (!t.cancelled) t.fn();
      await new Promise((r) => setImmediate(r));
    };
    return { watch, timers, events, actions, fire };
  }
  const tray = { uid: 1001, gid: 1002, pid: 4242, user: 'ann' };

  it('gives a stopped tray the grace time, then reports it and restarts it', async () => {
    const h = harness({ onStopped: 'restart', graceSeconds: 5 });
    h.watch.hello(1001);
    h.watch.gone(tray);
    expect(h.timers[0]!.ms).toBe(5000);
    await h.fire();
    expect(h.actions).toEqual(['restart:ann:1002']);
    expect(h.events).toEqual([{ type: 'tray.stopped', data: expect.objectContaining({ user: 'ann', action: 'restarted', ok: true }) }]);
  });

  it('does nothing when the tray is back in time, or while another of its connections is open', async () => {
    const h = harness({ onStopped: 'lock', graceSeconds: 5 });
    h.watch.hello(1001);
    h.watch.hello(1001);
    h.watch.gone(tray);
    expect(h.timers).toHaveLength(0);
    h.watch.gone(tray);
    h.watch.hello(1001);
    await h.fire();
    expect(h.actions).toEqual([]);
    expect(h.events).toEqual([]);
  });

  it('locks the session when the policy says so, or when a restart fails', async () => {
    const locking = harness({ onStopped: 'lock', graceSeconds: 2 });
    locking.watch.hello(1001);
    locking.watch.gone(tray);
    await locking.fire();
    expect(locking.actions).toEqual(['lock']);
    expect(locking.events[0]!.data).toMatchObject({ action: 'locked', ok: true });
    const failing = harness({ onStopped: 'restart', graceSeconds: 2 }, false);
    failing.watch.hello(1001);
    failing.watch.gone(tray);
    await failing.fire();
    expect(failing.actions).toEqual(['restart:ann:1002', 'lock']);
    expect(failing.events[0]!.data).toMatchObject({
      action: 'locked',
      detail: expect.stringMatching(/could not start it again \(no tray command\); locked the session/),
    });
    const reporting = harness({ onStopped: 'report', graceSeconds: 2 });
    reporting.watch.hello(1001);
    reporting.watch.gone(tray);
    await reporting.fire();
    expect(reporting.actions).toEqual([]);
    expect(reporting.events[0]!.data).toMatchObject({ action: 'reported' });
  });
});

describe('monitoring in plain words', () => {
  it('names each control that is on, and says when activity is not recorded and why', () => {
    const state = {
      appControl: { enforcement: 'pre-exec' as const, mode: 'enforce' as const, detail: null, marks: [] },
      idleLockSeconds: 600,
      activity: null,
      usbControl: true,
    };
    expect(monitoredNow(state)).toEqual([
      'Programs: only programs the school allows can start.',
      'Screen lock: the screen locks after 10 minutes without use.',
      'USB drives: only drives checked by the school can be opened.',
      'Websites and windows: not recorded.',
    ]);
    expect(monitoredSummary(state)).toBe('Monitored now: programs, screen lock, USB drives');
    const paused = {
      appControl: null,
      idleLockSeconds: null,
      activity: { collecting: false, mode: 'full' as const, pausedReason: 'outside-school-hours' as const },
      usbControl: false,
    };
    expect(monitoredNow(paused)).toEqual(['Websites and windows: not recorded right now (outside school hours).']);
    expect(monitoredSummary(paused)).toBe('Nothing is monitored right now');
  });

  it("shows the activity collector's own words for what is shared right now", () => {
    const now = {
      collecting: true,
      mode: 'app-only' as const,
      pausedReason: null,
      window: { app: 'Firefox', title: null, url: null, path: null },
      since: null,
      idleSeconds: 0,
      locked: false,
    };
    const words = describeSharing(now, null, 'school');
    const lines = monitoredNow({
      appControl: null,
      idleLockSeconds: null,
      activity: { collecting: true, mode: 'app-only', pausedReason: null, words },
      usbControl: false,
    });
    expect(lines[0]).toBe('School IT can see that you are using Firefox.');
    expect(lines).toContain('They cannot see window titles, web addresses or what is inside your apps.');
    expect(
      MonitoringStateSchema.safeParse({
        appControl: null,
        idleLockSeconds: null,
        activity: { collecting: true, mode: 'app-only', pausedReason: null, words },
        usbControl: false,
      }).success,
    ).toBe(true);
  });
});

/** Closed after each test, last opened first. */
function closersPerTest(): (() => unknown)[] {
  const closers: (() => unknown)[] = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });
  return closers;
}

/** The tray IPC's options for a service whose session is this process's user (`path` null: user mode). */
function options(path: string | null, emitted: NewAgentEvent[], sessionUid = process.getuid!()): TrayIpcOptions {
  return {
    path,
    trayCommand: null,
    mode: path ? 'service' : 'user',
    session: () => ({ uid: sessionUid }),
    consoleConnected: () => false,
    policyVersion: () => null,
    policy: () => undefined,
    monitoring: () => ({ appControl: null, idleLockSeconds: null, activity: null, usbControl: false }),
    emit: (e) => emitted.push(e),
    lock: async () => ({ ok: false, detail: 'no locker here' }),
    userName: (uid) => passwdName(uid),
    log,
  };
}

/** The AUP gate's three calls over a real socket, served by the service's request handler. */
const addonMissing = !existsSync(join(REPO, 'native/peercred/build/Release/vigil_peercred.node'));
const skip = skipReason(
  'tray IPC (AUP)',
  process.platform !== 'linux' ? 'Linux only (SO_PEERCRED)' : addonMissing ? 'the peer-credentials addon is not built' : null,
);

class FakeGate implements AupGateApi {
  calls: string[] = [];
  accepted = false;
  readonly page = {
    variant: 'primary' as const,
    version: 4,
    aupHash: 'd'.repeat(64),
    title: 'Our rules',
    markdown: 'Be kind.',
    school: 'Hillside',
    user: '',
    offline: false,
  };
  async decide(user: string): Promise<AupGateDecision> {
    this.calls.push(`decide:${user}`);
    return this.accepted ? { needed: false, reason: 'accepted-here' } : { needed: true, reason: 'not-accepted', page: { ...this.page, user } };
  }
  async accept(user: string, request: AupAcceptRequest) {
    this.calls.push(`accept:${user}:${request.typedName}`);
    if (request.aupHash !== this.page.aupHash) return { ok: false as const, message: 'these are not the current rules' };
    this.accepted = true;
    return { ok: true as const };
  }
  async decline(user: string) {
    this.calls.push(`decline:${user}`);
    return { ok: true as const };
  }
}

describe.skipIf(skip)('AUP gate over the tray socket', () => {
  const me = userInfo().username;
  const uid = process.getuid!();
  const closers = closersPerTest();

  async function serve(sessionUid: number | null) {
    const gate = new FakeGate();
    const host: TrayServiceHost = {
      mode: 'service',
      sessionUid: () => sessionUid,
      consoleConnected: () => true,
      policyVersion: () => 1,
      monitoring: () => ({ appControl: null, idleLockSeconds: null, activity: null, usbControl: false }),
      aupGate: () => gate,
      emit: () => undefined,
      lock: null,
      watch: null,
    };
    const path = join(tempDir(), 'run', 'tray.sock');
    const server = new TrayIpcServer({ path, handler: new TrayRequests(host), credentialsOf: socketPeerCredentials, userName: () => me, log });
    await server.listen();
    closers.push(() => server.close());
    return { gate, path };
  }

  it("carries decide, accept and decline for the kernel's user; decline only for the session's user", async () => {
    const { gate, path } = await serve(uid);
    const client = await TrayIpcClient.connect({ path, expectServerUid: uid });
    closers.push(() => client.close());
    const decision = await client.call('aup.decide', {});
    expect(decision).toEqual({ needed: true, reason: 'not-accepted', page: { ...gate.page, user: me } });
    expect(await client.call('aup.accept', { request: { typedName: 'Ann', variant: 'primary', version: 4, aupHash: 'e'.repeat(64) } })).toEqual({
      ok: false,
      message: 'these are not the current rules',
    });
    await expect(client.call('aup.accept', { request: { typedName: 'A', variant: 'primary', version: 4, aupHash: 'nothex' } as never })).rejects.toMatchObject({
      code: 'malformed',
    });
    expect(await client.call('aup.decline', {})).toEqual({ ok: true });
    expect(gate.calls).toEqual([`decide:${me}`, `accept:${me}:Ann`, `decline:${me}`]);

    const other = await serve(uid + 1);
    const stranger = await TrayIpcClient.connect({ path: other.path, expectServerUid: uid });
    closers.push(() => stranger.close());
    await expect(stranger.call('aup.decline', {})).rejects.toEqual(
      new IpcCallError('not-your-session', `${me} may not answer the AUP for another user's session`),
    );
    expect(other.gate.calls).toEqual([]);
  });

  it('the tray shows the gate from the service, and closes it once the service has the acceptance', async () => {
    const { gate, path } = await serve(uid);
    const service = new SocketServiceConnection({ path, expectServerUid: uid, trayVersion: 'test', retryMs: 50 });
    await waitUntil(() => service.connected);
    const electron = new FakeElectron();
    registerPageScheme(electron);
    const app = (await TrayApp.start({
      electron,
      service,
      pagesRoot: tempDir(),
      preloadPath: '/p.cjs',
      icons: { connected: 'c', offline: 'o', 'action-needed': 'a' },
      trayVersion: 't',
      userMode: false,
      log,
      aupCloseDelayMs: 0,
    }))!;
    closers.push(() => app.stop());
    await app.refresh();
    const kiosk = electron.windowAt('/aup/')!;
    expect(kiosk.spec).toMatchObject({ kiosk: true, closable: false });
    expect(electron.tray.image).toBe('a');
    const sender = { url: kiosk.url!, senderId: kiosk.webContents.id };
    const page = (await electron.invoke(TRAY_CHANNELS.aupLoad, sender)) as { aupHash: string; variant: string; version: number };
    expect(
      await electron.invoke(TRAY_CHANNELS.aupAccept, sender, { typedName: 'Ann Smith', variant: page.variant, version: page.version, aupHash: page.aupHash }),
    ).toEqual({ ok: true });
    await waitUntil(() => kiosk.isDestroyed());
    await waitUntil(() => app.state === 'connected');
    expect(gate.calls).toContain(`accept:${me}:Ann Smith`);
  });
});

describe.skipIf(skip)('notices and user mode', () => {
  const me = userInfo().username;
  const uid = process.getuid!();
  const closers = closersPerTest();
  const program = {
    name: 'game',
    path: '/tmp/game',
    sha256: 'f'.repeat(64),
    signer: 'unknown',
    user: me,
    mode: 'enforce' as const,
    reason: 'default',
    ruleId: null,
    repeats: 0,
  };

  it("sends a block to that user's trays that said hello, and a logoff warning to the session's", async () => {
    const path = join(tempDir(), 'run', 'tray.sock');
    const ipc = await startTrayIpc(options(path, []));
    closers.push(() => ipc.close());
    const tray = await TrayIpcClient.connect({ path, expectServerUid: uid });
    const silent = await TrayIpcClient.connect({ path, expectServerUid: uid });
    closers.push(
      () => tray.close(),
      () => silent.close(),
    );
    const seen: ServiceNotice[] = [];
    const unseen: ServiceNotice[] = [];
    tray.on('notice', (n) => seen.push(n));
    silent.on('notice', (n) => unseen.push(n));
    await tray.call('hello', { trayVersion: 't' });
    ipc.onEvent({ type: 'app.blocked', data: program });
    ipc.onEvent({ type: 'app.blocked', data: { ...program, user: 'someone-else' } });
    ipc.onEvent({ type: 'session.action', data: { action: 'warn', reason: 'schedule', ok: true, backend: 'xmessage', detail: 'Signing out in 5 minutes' } });
    // The fallback watcher's kill is told to the pupil like a block.
    ipc.onEvent({ type: 'app.killed', data: { ...program, name: 'game2', livedMs: 3, watcher: 'proc-connector' } });
    await waitUntil(() => seen.length === 3);
    expect(seen).toEqual([
      { kind: 'notice', notice: 'app.blocked', program: { name: 'game', path: '/tmp/game', sha256: program.sha256, signer: 'unknown', mode: 'enforce' } },
      { kind: 'notice', notice: 'session.warning', text: 'Signing out in 5 minutes' },
      { kind: 'notice', notice: 'app.blocked', program: { name: 'game2', path: '/tmp/game', sha256: program.sha256, signer: 'unknown', mode: 'enforce' } },
    ]);
    await new Promise((r) => setTimeout(r, 50));
    expect(unseen).toEqual([]);
  });

  it('user mode: the tray calls the service core in-process, through the same schemas', async () => {
    const emitted: NewAgentEvent[] = [];
    const ipc = await startTrayIpc(options(null, emitted));
    const service = new InProcessServiceConnection(ipc);
    closers.push(() => service.close());
    expect(await service.call('status', {})).toMatchObject({ user: me, mode: 'user', consoleConnected: false });
    expect(await service.call('concern.report', { submission: { category: 'other', text: 'worried', wantsContact: false } })).toEqual({ queued: true });
    expect(emitted).toEqual([{ type: 'concern.reported', data: { category: 'other', text: 'worried', wantsContact: false, user: me } }]);
    await expect(service.call('concern.report', { submission: { category: 'nope' } } as never)).rejects.toThrow();
    expect(await service.call('lock.now', {})).toEqual({ locked: false, detail: 'no locker here' });
    const notices: ServiceNotice[] = [];
    service.on('notice', (n) => notices.push(n));
    ipc.onEvent({ type: 'app.blocked', data: program });
    expect(notices).toHaveLength(1);
  });
});

describe.skipIf(skip)('a tray that never reads', () => {
  it('is dropped once its unread answers pass the cap; the server keeps serving others', async () => {
    const { connect } = await import('node:net');
    const uid = process.getuid!();
    const path = join(tempDir(), 'run', 'tray.sock');
    const host: TrayServiceHost = {
      mode: 'service',
      sessionUid: () => uid,
      consoleConnected: () => true,
      policyVersion: () => 1,
      monitoring: () => ({ appControl: null, idleLockSeconds: null, activity: null, usbControl: false }),
      aupGate: () => bigGate,
      emit: () => undefined,
      lock: null,
      watch: null,
    };
    // Each AUP decision carries the page: 150 kB of text each.
    const bigGate = new FakeGate();
    Object.assign(bigGate.page, { markdown: 'x'.repeat(150_000) });
    const server = new TrayIpcServer({ path, handler: new TrayRequests(host), credentialsOf: socketPeerCredentials, userName: () => 'ann', log });
    await server.listen();
    try {
      const greedy = connect(path);
      greedy.pause(); // never reads
      const closed = new Promise((resolve) => greedy.on('close', resolve));
      greedy.on('error', () => undefined);
      const line = `${JSON.stringify({ id: 1, op: 'aup.decide' })}\n`;
      for (let i = 0; i < 200 && !greedy.destroyed; i++) {
        greedy.write(line);
        await new Promise((r) => setTimeout(r, 2));
      }
      await closed;
      const client = await TrayIpcClient.connect({ path, expectServerUid: uid });
      expect((await client.call('status', {})).user).toBe('ann');
      client.close();
    } finally {
      await server.close();
    }
  });
});

describe.skipIf(skip)('the tray keeps its connection', () => {
  it('reconnects after the service restarts, says hello again, and hears about new AUPs', async () => {
    const uid = process.getuid!();
    const path = join(tempDir(), 'run', 'tray.sock');
    const opts = (): TrayIpcOptions => ({
      path,
      trayCommand: null,
      mode: 'service',
      session: () => ({ uid }),
      consoleConnected: () => true,
      policyVersion: () => 1,
      policy: () => undefined,
      monitoring: () => ({ appControl: null, idleLockSeconds: null, activity: null, usbControl: false }),
      emit: () => undefined,
      lock: null,
      userName: (peerUid) => passwdName(peerUid),
      log,
    });
    let ipc = await startTrayIpc(opts());
    const service = new SocketServiceConnection({ path, expectServerUid: uid, trayVersion: 't', retryMs: 30 });
    try {
      await waitUntil(() => service.connected);
      await ipc.close();
      await waitUntil(() => !service.connected);
      expect(service.problem).toMatch(/closed the connection|ENOENT|ECONNREFUSED/);
      await expect(service.call('status', {})).rejects.toMatchObject({ code: 'disconnected' });
      ipc = await startTrayIpc(opts());
      await waitUntil(() => service.connected, 5000);
      expect(service.problem).toBeNull();
      const notices: ServiceNotice[] = [];
      service.on('notice', (n) => notices.push(n));
      ipc.aupChanged();
      await waitUntil(() => notices.length === 1);
      expect(notices[0]).toEqual({ kind: 'notice', notice: 'aup.needed' });
    } finally {
      service.close();
      await ipc.close();
    }
  });
});

describe.skipIf(skip)("power and idle reports from the session user's tray", () => {
  const me = userInfo().username;
  const uid = process.getuid!();
  const closers = closersPerTest();

  /** The service side as the composition root (service.ts) wires it: reportPower, and the idle reports session control reads. */
  async function serve(sessionUid: number) {
    const powers: string[] = [];
    let mono = 1_000;
    const reports = new TrayIdleReports(() => mono);
    const path = join(tempDir(), 'run', 'tray.sock');
    const ipc = await startTrayIpc({
      ...options(path, [], sessionUid),
      power: (state) => (powers.push(state), true),
      idle: (peerUid, reading) => reports.record(peerUid, reading),
    });
    closers.push(() => ipc.close());
    const idle = measuredIdle(null, reports, () => sessionUid);
    return { path, powers, reports, idle, later: (ms: number) => void (mono += ms) };
  }

  it("carries suspend, resume and idle readings for the session's user into reportPower and session control's idle source", async () => {
    const { path, powers, reports, idle, later } = await serve(uid);
    const client = await TrayIpcClient.connect({ path, expectServerUid: uid });
    closers.push(() => client.close());
    expect(await client.call('power.report', { state: 'suspending' })).toEqual({ sent: true });
    expect(await client.call('power.report', { state: 'awake' })).toEqual({ sent: true });
    expect(powers).toEqual(['suspending', 'awake']);
    expect(await client.call('idle.report', { idleSeconds: 90, state: 'idle' })).toEqual({ recorded: true });
    expect(reports.fresh(uid)).toMatchObject({ idleSeconds: 90, state: 'idle' });
    expect(await idle.idleMs()).toBe(90_000);
    later(15_000);
    expect(await idle.idleMs()).toBeNull();
  });

  it("refuses another user's tray, and malformed reports, changing nothing", async () => {
    const { path, powers, reports } = await serve(uid + 1);
    const stranger = await TrayIpcClient.connect({ path, expectServerUid: uid });
    closers.push(() => stranger.close());
    await expect(stranger.call('power.report', { state: 'suspending' })).rejects.toEqual(
      new IpcCallError('not-your-session', `${me} may not report power for another user's session`),
    );
    await expect(stranger.call('idle.report', { idleSeconds: 5, state: 'active' })).rejects.toEqual(
      new IpcCallError('not-your-session', `${me} may not report idle time for another user's session`),
    );
    const own = await serve(uid);
    const client = await TrayIpcClient.connect({ path: own.path, expectServerUid: uid });
    closers.push(() => client.close());
    for (const bad of [{ state: 'hibernating' }, { state: 'suspending', uid: uid + 1 }, {}]) {
      await expect(client.call('power.report', bad as never), JSON.stringify(bad)).rejects.toMatchObject({ code: 'malformed' });
    }
    for (const bad of [
      { idleSeconds: -1, state: 'active' },
      { idleSeconds: 1.5, state: 'active' },
      { idleSeconds: '10', state: 'active' },
      { idleSeconds: 400 * 86_400, state: 'active' },
      { idleSeconds: 10, state: 'asleep' },
      { idleSeconds: 10, state: 'active', user: 'root' },
    ]) {
      await expect(client.call('idle.report', bad as never), JSON.stringify(bad)).rejects.toMatchObject({ code: 'malformed' });
    }
    expect([...powers, ...own.powers]).toEqual([]);
    expect(reports.fresh(uid)).toBeNull();
    expect(reports.fresh(uid + 1)).toBeNull();
    expect(own.reports.fresh(uid)).toBeNull();
    expect(await client.call('status', {})).toMatchObject({ user: me });
  });

  it("the Electron tray's powerMonitor reaches the service over the socket", async () => {
    const { path, powers, idle } = await serve(uid);
    const service = new SocketServiceConnection({ path, expectServerUid: uid, trayVersion: 'test', retryMs: 50 });
    await waitUntil(() => service.connected);
    const electron = new FakeElectron();
    registerPageScheme(electron);
    const app = (await TrayApp.start({
      electron,
      service,
      pagesRoot: tempDir(),
      preloadPath: '/p.cjs',
      icons: { connected: 'c', offline: 'o', 'action-needed': 'a' },
      trayVersion: 't',
      userMode: false,
      log,
      idleReportMs: 3_600_000,
    }))!;
    closers.push(() => app.stop());
    electron.powerMonitor.idleSeconds = 321;
    electron.powerMonitor.emit('lock-screen');
    await waitUntil(async () => (await idle.idleMs()) === 321_000);
    electron.powerMonitor.emit('suspend');
    await waitUntil(() => powers.length === 1);
    expect(powers).toEqual(['suspending']);
  });
});

/**
 * Which transport and peer check each platform gets, with the OS injected: the macOS and Windows
 * halves of the addon cannot run here, so these prove the selection and the wiring around them,
 * not the OS calls (docs/tray.md says what is unverified).
 */
describe('tray transport per platform', () => {
  const uid = process.getuid!();
  const closers = closersPerTest();
  const missing = (): never => {
    throw new Error('the peer-credentials addon is not built (/x.node)');
  };
  function fakePlatform(platform: NodeJS.Platform, overrides: Partial<TrayPlatform> = {}): TrayPlatform & { fds: number[] } {
    const fds: number[] = [];
    return {
      platform,
      fds,
      peercred: () => ({ peerCredentials: (fd) => (fds.push(fd), { pid: 7, uid, gid: 20 }) }),
      listenPipe: () => {
        throw new Error('listenPipe: not this platform');
      },
      connectPipe: () => {
        throw new Error('connectPipe: not this platform');
      },
      ...overrides,
    };
  }
  /** Both ends of a real local connection, standing in for what the pipe addon hands over. */
  async function socketPair(): Promise<{ server: Socket; client: Socket }> {
    const path = join(tempDir(), 'pair.sock');
    const listener = createServer();
    const server = new Promise<Socket>((resolve) => listener.once('connection', resolve));
    await new Promise<void>((resolve) => listener.listen(path, resolve));
    const client = connect(path);
    const pair = { server: await server, client };
    listener.close();
    closers.push(() => (pair.server.destroy(), pair.client.destroy()));
    return pair;
  }

  it('names the peer check of each platform, and none elsewhere', () => {
    expect(['linux', 'darwin', 'win32', 'freebsd'].map((p) => peerCheckFor(p as NodeJS.Platform))).toEqual([
      'SO_PEERCRED',
      'getpeereid',
      'pipe client token',
      null,
    ]);
    expect(() => trayServerTransport('/run/vigil/tray.sock', fakePlatform('freebsd'))).toThrow('the tray IPC has no peer check on freebsd: trays are refused');
    expect(() => trayClientTransport('/run/vigil/tray.sock', fakePlatform('openbsd'))).toThrow(/no peer check on openbsd/);
  });

  it('loads the Unix addon on Linux and macOS only, and says when it is not built', () => {
    const addon = { peerCredentials: () => ({ pid: 1, uid: 2, gid: 3 }) };
    const built = join(REPO, 'package.json'); // any existing file stands in for the built addon
    expect(loadPeercredAddon('darwin', built, () => addon)).toBe(addon);
    expect(() => loadPeercredAddon('win32', built, () => addon)).toThrow('win32 has no Unix-socket peer check (pipe client token); trays are refused');
    expect(() => loadPeercredAddon('darwin', join(tempDir(), 'none.node'), () => addon)).toThrow(/the peer-credentials addon \(getpeereid\) is not built/);
  });

  it('Linux and macOS: the Unix socket at the given path, peers named by the addon from the socket descriptor', async () => {
    for (const platform of ['linux', 'darwin'] as const) {
      const host = fakePlatform(platform);
      const transport = trayServerTransport('/run/vigil/tray.sock', host);
      expect(transport).toMatchObject({ kind: 'unix-socket', path: '/run/vigil/tray.sock', peerCheck: peerCheckFor(platform) });
      const { server } = await socketPair();
      if (transport.kind !== 'unix-socket') throw new Error('expected a Unix socket');
      expect(transport.credentialsOf(server)).toEqual({ pid: 7, uid, gid: 20 });
      expect(host.fds).toEqual([socketFd(server)]);
    }
  });

  it('macOS: the service serves trays through the getpeereid path (an injected addon), and refuses to start without it', async () => {
    const path = join(tempDir(), 'run', 'tray.sock');
    const ipc = await startTrayIpc({ ...options(path, []), platform: fakePlatform('darwin') });
    closers.push(() => ipc.close());
    const tray = await TrayIpcClient.connect({ path, expectServerUid: uid, platform: fakePlatform('darwin') });
    closers.push(() => tray.close());
    expect(await tray.call('hello', { trayVersion: 't' })).toMatchObject({ sessionUser: true });
    // The client's own check: a listener the addon says is another uid is not the service.
    const impostor = fakePlatform('darwin', { peercred: () => ({ peerCredentials: () => ({ pid: 9, uid: uid + 501, gid: 20 }) }) });
    await expect(TrayIpcClient.connect({ path, expectServerUid: uid, platform: impostor })).rejects.toThrow(
      `runs as uid ${uid + 501}, not ${uid}: not the Vigil service`,
    );

    const other = join(tempDir(), 'run', 'tray.sock');
    await expect(startTrayIpc({ ...options(other, []), platform: fakePlatform('darwin', { peercred: missing }) })).rejects.toThrow(/addon is not built/);
    expect(existsSync(other)).toBe(false);
  });

  it('Windows: the service listens on the named pipe, binds each request to the SID the addon names, and closes the pipe', async () => {
    const accepted: ((socket: Socket, peer: { pid: number; sid: string }) => void)[] = [];
    let closed = 0;
    const host = fakePlatform('win32', {
      peercred: missing, // the Unix half is never asked for on Windows
      listenPipe: (onClient) => (accepted.push(onClient), { close: () => void closed++ }),
    });
    expect(trayServerTransport('C:\\ignored', host)).toMatchObject({ kind: 'named-pipe', path: TRAY_PIPE_NAME, peerCheck: 'pipe client token' });
    const emitted: NewAgentEvent[] = [];
    const unixPath = join(tempDir(), 'run', 'tray.sock');
    const ipc = await startTrayIpc({ ...options(unixPath, emitted), platform: host });
    expect(accepted).toHaveLength(1);
    expect(existsSync(unixPath)).toBe(false); // no Unix socket on Windows

    const pupil = 'S-1-5-21-1004336348-1177238915-682003330-1001';
    const { server, client } = await socketPair();
    accepted[0]!(server, { pid: 4242, sid: pupil });
    const tray = await TrayIpcClient.connect({ path: 'ignored', platform: fakePlatform('win32', { peercred: missing, connectPipe: () => client }) });
    expect(await tray.call('hello', { trayVersion: 't' })).toEqual({ user: pupil, sessionUser: false, tray: null });
    expect(await tray.call('concern.report', { submission: { category: 'other', text: 'worried', wantsContact: false } })).toEqual({ queued: true });
    expect(emitted).toEqual([{ type: 'concern.reported', data: { category: 'other', text: 'worried', wantsContact: false, user: pupil } }]);
    // A pipe peer has no uid, so nothing bound to the session's uid is done for it.
    await expect(tray.call('lock.now', {})).rejects.toMatchObject({ code: 'not-your-session' });

    // The pipe has no connection cap of its own: the server's per-account cap applies (issue 15, point 4).
    const path = join(tempDir(), 'many.sock');
    const many = createServer();
    await new Promise<void>((resolve) => many.listen(path, resolve));
    closers.push(() => many.close());
    const served: Socket[] = [];
    many.on('connection', (s) => served.push(s));
    const clients = Array.from({ length: IPC_LIMITS.maxPerUser + 4 }, () => connect(path));
    closers.push(() => clients.forEach((c) => c.destroy()));
    await waitUntil(() => served.length === clients.length);
    served.forEach((s) => accepted[0]!(s, { pid: 1, sid: pupil }));
    // The account's share included the tray's own connection: all but maxPerUser - 1 refused.
    expect(served.filter((s) => s.destroyed)).toHaveLength(5);
    expect(served.at(-1)!.destroyed).toBe(true);
    // Another account still gets in.
    const { server: other } = await socketPair();
    accepted[0]!(other, { pid: 2, sid: 'S-1-5-21-1004336348-1177238915-682003330-1002' });
    expect(other.destroyed).toBe(false);

    await ipc.close();
    expect(closed).toBe(1);
  });

  it('Windows: refuses to start when the pipe addon is missing; the tray refuses a pipe server that is not LocalSystem', async () => {
    const noAddon = fakePlatform('win32', {
      listenPipe: () => {
        throw new Error('the pipe addon is not built (C:\\vigil\\vigil_peercred.node)');
      },
      connectPipe: () => {
        throw new Error(`the process behind ${TRAY_PIPE_NAME} (pid 66) runs as S-1-5-21-1-2-3-1001, not LocalSystem: not the Vigil service`);
      },
    });
    await expect(startTrayIpc({ ...options('/run/vigil/tray.sock', []), platform: noAddon })).rejects.toThrow('the pipe addon is not built');
    await expect(TrayIpcClient.connect({ path: '/run/vigil/tray.sock', platform: noAddon })).rejects.toThrow(/not LocalSystem: not the Vigil service/);
    expect(trayClientTransport('/run/vigil/tray.sock', noAddon)).toMatchObject({ kind: 'named-pipe', path: TRAY_PIPE_NAME });
  });
});
