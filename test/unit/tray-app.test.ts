import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { pageOf, pageUrl } from '../../main/pages.js';
import { SecretStore } from '../../main/secret-store.js';
import { registerPageScheme, TrayApp, type TrayAppOptions } from '../../main/tray-app.js';
import type { TrayStatus } from '../../src/shared/local-ipc.js';
import { PAGE_CHANNELS, TRAY_CHANNELS } from '../../src/shared/tray-bridge.js';
import { createLogger } from '../../src/shared/node/log.js';
import { FakeContents, FakeElectron, FakeService, type FakeWindow } from '../helpers/fake-electron.js';
import { REPO, tempDirsPerTest, waitUntil } from '../helpers/processes.js';

/**
 * The tray's main process against a fake of the Electron APIs it uses: single instance, icon
 * state, menu, windows' security settings, the AUP kiosk, notifications and every IPC check.
 */
const log = createLogger('tray-test', 'error');
const tempDir = tempDirsPerTest();
const SHA = 'a'.repeat(64);
const icons = { connected: 'icon-connected.png', offline: 'icon-offline.png', 'action-needed': 'icon-action.png' };

function status(over: Partial<TrayStatus> = {}): TrayStatus {
  return {
    user: 'ann',
    mode: 'service',
    consoleConnected: true,
    policyVersion: 3,
    aupNeeded: false,
    monitoring: {
      appControl: { enforcement: 'pre-exec', mode: 'enforce', detail: null, marks: ['/home'] },
      idleLockSeconds: 300,
      activity: null,
      usbControl: false,
    },
    ...over,
  };
}

const apps: TrayApp[] = [];
afterEach(() => apps.splice(0).forEach((a) => a.stop()));

async function start(service: FakeService, electron = new FakeElectron(), pagesRoot = tempDir(), more: Partial<TrayAppOptions> = {}) {
  registerPageScheme(electron);
  const app = await TrayApp.start({
    electron,
    service,
    pagesRoot,
    preloadPath: '/opt/vigil/preload.cjs',
    icons,
    trayVersion: '0.1.0',
    userMode: false,
    log,
    aupCloseDelayMs: 0,
    ...more,
  });
  if (app) {
    apps.push(app);
    await app.refresh();
  }
  return { app, electron };
}

const from = (window: FakeWindow | undefined) => ({ url: window!.url!, senderId: window!.webContents.id });
const menuItem = (electron: FakeElectron, id: string) => electron.tray.menu.find((m) => m.id === id)!;

describe('tray app main process', () => {
  it('runs once per user: a second instance quits and creates nothing', async () => {
    const electron = new FakeElectron();
    electron.lockGranted = false;
    const { app } = await start(new FakeService({}), electron);
    expect(app).toBeNull();
    expect(electron.quits).toBe(1);
    expect(electron.trays).toHaveLength(0);
    expect(electron.ipcHandlers.size).toBe(0);
  });

  it('opens the status page when a second instance is started', async () => {
    const { electron } = await start(new FakeService({ status: () => status() }));
    electron.appEvents.emit('second-instance');
    expect(electron.windowAt('/status/')?.url).toBe('vigil-app://pages/status/index.html');
  });

  it('says connected, offline or action needed in its icon and tooltip', async () => {
    let current = status();
    const service = new FakeService({ status: () => current, 'aup.decide': () => ({ needed: false, reason: 'accepted-here' }) });
    const { app, electron } = await start(service);
    expect(app!.state).toBe('connected');
    expect(electron.tray.image).toBe(icons.connected);
    current = status({ consoleConnected: false });
    await app!.refresh();
    expect(electron.tray.image).toBe(icons.offline);
    expect(electron.tray.tooltip).toMatch(/offline \(school cannot be reached/);
    service.connected = false;
    service.problem = 'connect ENOENT /run/vigil/tray.sock';
    await app!.refresh();
    expect(electron.tray.tooltip).toMatch(/ENOENT/);
    service.connected = true;
    current = status({ aupNeeded: true });
    await app!.refresh();
    expect(electron.tray.image).toBe(icons['action-needed']);
    expect(electron.tray.tooltip).toMatch(/action needed/);
  });

  it('has the menu the pupil needs, saying in plain words what is monitored', async () => {
    const service = new FakeService({ status: () => status(), 'lock.now': () => ({ locked: true, detail: 'i3lock' }) });
    const { electron } = await start(service);
    const labels = electron.tray.menu.filter((m) => m.label).map((m) => m.label);
    expect(labels).toEqual([
      'Monitored now: programs, screen lock',
      'View the computer rules (AUP)',
      'Ask for an app…',
      'Report a concern…',
      'Lock now',
      'About and diagnostics',
    ]);
    menuItem(electron, 'concern').click!();
    expect(electron.windowAt('/concern/')?.url).toBe(pageUrl('concern'));
    menuItem(electron, 'about').click!();
    expect(electron.windowAt('/status/')?.url).toBe(`${pageUrl('status')}#diagnostics`);
    menuItem(electron, 'lock').click!();
    await new Promise((r) => setImmediate(r));
    expect(service.calls.map((c) => c.op)).toContain('lock.now');
  });

  it('creates every window sandboxed, context-isolated, without Node, with the preload, from the page scheme', async () => {
    const { electron } = await start(new FakeService({ status: () => status({ aupNeeded: true }), 'aup.decide': () => ({ needed: false, reason: 'no-aup' }) }));
    for (const id of ['concern', 'request-app', 'about']) menuItem(electron, id).click!();
    expect(electron.windows.length).toBeGreaterThanOrEqual(4);
    for (const w of electron.windows) {
      expect(w.spec.webPreferences).toEqual({
        preload: '/opt/vigil/preload.cjs',
        contextIsolation: true,
        sandbox: true,
        nodeIntegration: false,
        nodeIntegrationInSubFrames: false,
        webSecurity: true,
        allowRunningInsecureContent: false,
        webviewTag: false,
        spellcheck: false,
      });
      expect(w.url).toMatch(/^vigil-app:\/\/pages\//);
    }
    expect(electron.schemes).toEqual(['vigil-app:{"standard":true,"secure":true,"supportFetchAPI":true}']);
    let granted: boolean | null = null;
    electron.permissionHandler!(null, 'media', (g) => (granted = g));
    expect(granted).toBe(false);
  });

  it('denies new windows, navigation and webviews in every page', async () => {
    const { electron } = await start(new FakeService({ status: () => status() }));
    const contents = new FakeContents();
    electron.appEvents.emit('web-contents-created', {}, contents);
    expect(contents.openHandler!({ url: 'https://example.com' })).toEqual({ action: 'deny' });
    for (const event of ['will-navigate', 'will-redirect', 'will-attach-webview']) {
      let prevented = false;
      contents.emit(event, { preventDefault: () => (prevented = true) }, 'https://example.com');
      expect(prevented, event).toBe(true);
    }
  });

  it('answers a channel only for the page allowed it, from its own window, with a valid argument', async () => {
    const service = new FakeService({ status: () => status(), 'concern.report': () => ({ queued: true }) });
    const { electron } = await start(service);
    menuItem(electron, 'concern').click!();
    menuItem(electron, 'monitored').click!();
    const concernWindow = electron.windowAt('/concern/');
    const statusWindow = electron.windowAt('/status/');
    const good = { category: 'about-me', text: 'I was sent something horrible', wantsContact: true };
    expect(await electron.invoke(TRAY_CHANNELS.reportConcern, from(concernWindow), good)).toEqual({ ok: true, value: { queued: true } });
    // Another page (allowed other channels), another origin, a look-alike window: all refused.
    await expect(electron.invoke(TRAY_CHANNELS.reportConcern, from(statusWindow), good)).rejects.toThrow('refused');
    await expect(
      electron.invoke(TRAY_CHANNELS.reportConcern, { url: 'file:///tmp/concern/index.html', senderId: concernWindow!.webContents.id }, good),
    ).rejects.toThrow('refused');
    await expect(
      electron.invoke(TRAY_CHANNELS.reportConcern, { url: 'https://pages/concern/index.html', senderId: concernWindow!.webContents.id }, good),
    ).rejects.toThrow('refused');
    await expect(electron.invoke(TRAY_CHANNELS.reportConcern, { url: concernWindow!.url!, senderId: statusWindow!.webContents.id }, good)).rejects.toThrow(
      'refused',
    );
    // Invalid arguments never reach the service.
    const before = service.calls.length;
    for (const bad of [null, { ...good, text: '   ' }, { ...good, user: 'root' }, { ...good, category: 'gossip' }, 'text']) {
      expect(await electron.invoke(TRAY_CHANNELS.reportConcern, from(concernWindow), bad)).toEqual({
        ok: false,
        message: 'the page sent something that is not valid',
      });
    }
    expect(service.calls.length).toBe(before);
    expect(service.calls.find((c) => c.op === 'concern.report')!.fields).toEqual({ submission: good });
  });

  it('shows a service failure to the page as a message', async () => {
    const service = new FakeService({ status: () => status(), 'concern.report': () => Promise.reject(new Error('the Vigil service did not answer')) });
    const { electron } = await start(service);
    menuItem(electron, 'concern').click!();
    expect(
      await electron.invoke(TRAY_CHANNELS.reportConcern, from(electron.windowAt('/concern/')), { category: 'other', text: 'x', wantsContact: false }),
    ).toEqual({
      ok: false,
      message: 'the Vigil service did not answer',
    });
  });

  it('notifies a block with "Ask for permission", and asks with the details the service sent', async () => {
    const service = new FakeService({ status: () => status(), 'app.request': () => ({ queued: true }) });
    const { app, electron } = await start(service);
    const program = { name: 'game.exe', path: '/home/ann/Downloads/game.exe', sha256: SHA, signer: 'unknown', mode: 'enforce' as const };
    app!.onNotice({ kind: 'notice', notice: 'app.blocked', program });
    const shown = electron.notifications.at(-1)!;
    expect(shown.shown).toBe(true);
    expect(shown.options).toMatchObject({ title: 'game.exe was blocked', actions: [{ text: 'Ask for permission' }] });
    expect(shown.options.body).toMatch(/school's rules/);
    shown.events.emit('click');
    const blocked = electron.windowAt('/blocked/');
    expect(await electron.invoke(TRAY_CHANNELS.blocked, from(blocked))).toEqual({ ok: true, value: program });
    expect(await electron.invoke(TRAY_CHANNELS.askPermission, from(blocked))).toEqual({ ok: true, value: { done: true } });
    const request = electron.windowAt('/request-app/');
    expect(await electron.invoke(TRAY_CHANNELS.requestContext, from(request))).toEqual({ ok: true, value: { programs: [program], selected: SHA } });
    expect(await electron.invoke(TRAY_CHANNELS.requestApp, from(request), { sha256: SHA, reason: ' for my maths homework ' })).toEqual({
      ok: true,
      value: { queued: true },
    });
    expect(service.calls.at(-1)).toEqual({
      op: 'app.request',
      fields: { ask: { name: 'game.exe', path: program.path, sha256: SHA, signer: 'unknown', reason: 'for my maths homework' } },
    });
    // A hash the service never reported as blocked is not sent.
    expect(await electron.invoke(TRAY_CHANNELS.requestApp, from(request), { sha256: 'b'.repeat(64), reason: null })).toMatchObject({ ok: false });
    app!.onNotice({ kind: 'notice', notice: 'session.warning', text: 'You will be signed out in 5 minutes.' });
    expect(electron.notifications.at(-1)!.options).toMatchObject({ title: 'Save your work', body: 'You will be signed out in 5 minutes.' });
    app!.onNotice({
      kind: 'notice',
      notice: 'usb.drive',
      title: '"STICK" was blocked',
      why: 'It has not been checked.',
      whatToDo: 'Take it to the scan station.',
    });
    expect(electron.notifications.at(-1)!.options).toMatchObject({
      title: '"STICK" was blocked',
      body: 'It has not been checked.\nTake it to the scan station.',
    });
  });

  it('shows the AUP in a kiosk window the pupil cannot close, and lets it go once accepted', async () => {
    let needed = true;
    const page = {
      variant: 'secondary',
      version: 2,
      aupHash: 'c'.repeat(64),
      title: 'Rules',
      markdown: '# Rules',
      school: 'Hillside',
      user: 'ann',
      offline: false,
    };
    const service = new FakeService({
      status: () => status({ aupNeeded: needed }),
      'aup.decide': () => (needed ? { needed: true, reason: 'not-accepted', page } : { needed: false, reason: 'accepted-here' }),
      'aup.accept': () => ((needed = false), { ok: true }),
      'aup.decline': () => ({ ok: true }),
    });
    const { app, electron } = await start(service);
    const gate = electron.windowAt('/aup/')!;
    expect(gate.spec).toMatchObject({
      kiosk: true,
      fullscreen: true,
      alwaysOnTop: true,
      closable: false,
      minimizable: false,
      maximizable: false,
      frame: false,
    });
    expect(gate.alwaysOnTopLevel).toBe('screen-saver');
    gate.close();
    expect(gate.isDestroyed()).toBe(false);
    const focusedBefore = gate.focused;
    gate.emit('blur');
    expect(gate.focused).toBe(focusedBefore + 1);
    // Asking again does not open a second gate.
    await app!.refresh();
    expect(electron.windows.filter((w) => w.url?.includes('/aup/') && !w.destroyed)).toHaveLength(1);
    // The page's bridge: load, a refused (invalid) acceptance, decline, then a valid acceptance.
    expect(await electron.invoke(TRAY_CHANNELS.aupLoad, from(gate))).toEqual(page);
    await expect(electron.invoke(TRAY_CHANNELS.aupAccept, from(gate), { typedName: 'Ann' })).rejects.toThrow(/not valid/);
    expect(await electron.invoke(TRAY_CHANNELS.aupDecline, from(gate))).toEqual({ ok: true });
    expect(service.calls.filter((c) => c.op === 'aup.decline')).toHaveLength(1);
    const accept = { typedName: 'Ann Smith', variant: 'secondary', version: 2, aupHash: 'c'.repeat(64) };
    expect(await electron.invoke(TRAY_CHANNELS.aupAccept, from(gate), accept)).toEqual({ ok: true });
    expect(service.calls.find((c) => c.op === 'aup.accept')!.fields).toEqual({ request: accept });
    await new Promise((r) => setTimeout(r, 10));
    expect(gate.isDestroyed()).toBe(true);
    expect(app!.state).toBe('connected');
  });

  it('serves pages from its own scheme with the CSP, and nothing outside the built pages', async () => {
    const root = tempDir();
    mkdirSync(join(root, 'status'));
    writeFileSync(join(root, 'status', 'index.html'), '<h1>status</h1>');
    writeFileSync(join(tempDir(), 'secret.html'), 'secret');
    const { electron } = await start(new FakeService({ status: () => status() }), new FakeElectron(), root);
    const serve = electron.protocolHandlers.get('vigil-app')!;
    const ok = await serve(new Request('vigil-app://pages/status/index.html'));
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe('<h1>status</h1>');
    expect(ok.headers.get('content-security-policy')).toMatch(/default-src 'none'; script-src 'self'/);
    for (const bad of [
      'vigil-app://pages/../../etc/passwd',
      'vigil-app://pages/%2e%2e/%2e%2e/etc/passwd',
      'vigil-app://other/status/index.html',
      'vigil-app://pages/status/missing.html',
    ]) {
      expect((await serve(new Request(bad))).status, bad).toBe(404);
    }
    expect(pageOf('vigil-app://pages/concern/index.html#x')).toBe('concern');
    expect(pageOf('vigil-app://pages/unknown/index.html')).toBeNull();
    expect(pageOf('file:///pages/concern/index.html')).toBeNull();
  });

  it("tells the service of suspend and resume, and sends the session's idle time every few seconds and at once on lock or unlock", async () => {
    const service = new FakeService({ status: () => status(), 'power.report': () => ({ sent: true }), 'idle.report': () => ({ recorded: true }) });
    const electron = new FakeElectron();
    const power = electron.powerMonitor;
    const { app } = await start(service, electron, tempDir(), { idleReportMs: 20 });
    const reports = () => service.calls.filter((c) => c.op === 'power.report' || c.op === 'idle.report');
    // Every few seconds (here 20 ms): seconds without input, and Electron's idle state.
    power.idleSeconds = 42;
    await waitUntil(() => reports().length >= 2);
    expect(reports().slice(0, 2)).toEqual([
      { op: 'idle.report', fields: { idleSeconds: 42, state: 'active' } },
      { op: 'idle.report', fields: { idleSeconds: 42, state: 'active' } },
    ]);
    app!.stop();
    expect(power.listenerCount('suspend')).toBe(0);
    const afterStop = reports().length;
    await new Promise((r) => setTimeout(r, 60));
    expect(reports().length).toBe(afterStop);

    // Without the timer: each event sends its report at once.
    const events = new FakeService({ status: () => status(), 'power.report': () => ({ sent: true }), 'idle.report': () => ({ recorded: true }) });
    const second = new FakeElectron();
    await start(events, second, tempDir(), { idleReportMs: 3_600_000 });
    const sent = () => events.calls.filter((c) => c.op !== 'status').map((c) => ({ op: c.op, ...(c.fields as object) }));
    second.powerMonitor.idleSeconds = 75;
    second.powerMonitor.screenLocked = true;
    second.powerMonitor.emit('lock-screen');
    second.powerMonitor.emit('suspend');
    await waitUntil(() => sent().length === 2);
    second.powerMonitor.idleSeconds = 0;
    second.powerMonitor.screenLocked = false;
    second.powerMonitor.emit('resume');
    await waitUntil(() => sent().length === 4);
    second.powerMonitor.emit('unlock-screen');
    await waitUntil(() => sent().length === 5);
    expect(sent()).toEqual([
      { op: 'idle.report', idleSeconds: 75, state: 'locked' },
      { op: 'power.report', state: 'suspending' },
      { op: 'power.report', state: 'awake' },
      { op: 'idle.report', idleSeconds: 0, state: 'active' },
      { op: 'idle.report', idleSeconds: 0, state: 'active' },
    ]);
    // Nothing is sent while the service is out of reach; a refusal does not stop the reports.
    events.connected = false;
    second.powerMonitor.emit('lock-screen');
    events.connected = true;
    events.answers['idle.report'] = () => Promise.reject(new Error("ann may not report idle time for another user's session"));
    second.powerMonitor.emit('lock-screen');
    events.answers['idle.report'] = () => ({ recorded: true });
    second.powerMonitor.emit('unlock-screen');
    await waitUntil(() => sent().length === 7);
  });

  it("exposes in the preload exactly each page's channels", () => {
    const preload = readFileSync(join(REPO, 'main/preload.cts'), 'utf8');
    for (const [page, channels] of Object.entries(PAGE_CHANNELS)) {
      const block = new RegExp(`page === '${page}'\\) \\{([\\s\\S]*?)\\n\\}`).exec(preload)?.[1] ?? '';
      const exposed = [...block.matchAll(/invoke\('([^']+)'\)/g)].map((m) => m[1]).sort();
      expect(exposed, page).toEqual([...channels].sort());
    }
  });
});

describe('tray secrets', () => {
  it("refuses Linux's plain-text fallback and a machine without a key store", () => {
    const electron = new FakeElectron();
    const store = new SecretStore(electron.safeStorage, tempDir());
    electron.secretBackend.backend = 'basic_text';
    expect(store.unavailable()).toMatch(/basic_text/);
    expect(() => store.save('enroll-token', 'secret-token')).toThrow(/cannot keep secrets safely/);
    electron.secretBackend.backend = 'gnome_libsecret';
    electron.secretBackend.available = false;
    expect(() => store.load('enroll-token')).toThrow(/no OS key store/);
  });

  it('keeps secrets encrypted by safeStorage, in files only the user can read', () => {
    const electron = new FakeElectron();
    const dir = join(tempDir(), 'secrets');
    const store = new SecretStore(electron.safeStorage, dir);
    expect(store.load('enroll-token')).toBeNull();
    store.save('enroll-token', 'secret-token');
    const onDisk = readFileSync(join(dir, 'enroll-token.secret'));
    expect(onDisk.toString()).not.toContain('secret-token');
    expect(store.load('enroll-token')).toBe('secret-token');
    expect(() => store.save('../escape', 'x')).toThrow(/not a secret name/);
  });
});
