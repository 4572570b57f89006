import type { z } from 'zod';
import { AupAcceptRequestSchema } from '../src/shared/aup-bridge.js';
import type { Logger } from '../src/shared/node/log.js';
import type { BlockedProgram, ServiceNotice, TrayStatus } from '../src/shared/local-ipc.js';
import { monitoredNow, monitoredSummary } from '../src/shared/monitoring-words.js';
import {
  ConcernArgSchema,
  PAGE_CHANNELS,
  RequestAppArgSchema,
  TRAY_CHANNELS,
  type BridgeResult,
  type RequestContext,
  type StatusView,
  type TrayChannel,
  type TrayPage,
} from '../src/shared/tray-bridge.js';
import type { BrowserWindowLike, BrowserWindowSpec, ElectronApi, IpcMainEventLike, MenuItemSpec, TrayLike, WebContentsLike } from './electron-api.js';
import { PAGE_SCHEME, pageOf, pageUrl, servePage } from './pages.js';
import { PowerReports } from './power-reports.js';
import type { ServiceConnection } from './service-connection.js';

export type TrayState = 'connected' | 'offline' | 'action-needed';

export interface TrayAppOptions {
  electron: ElectronApi;
  service: ServiceConnection;
  /** Built pages (dist/renderer). */
  pagesRoot: string;
  /** The sandboxed preload (dist/main/preload.cjs). */
  preloadPath: string;
  icons: Record<TrayState, string>;
  trayVersion: string;
  userMode: boolean;
  log: Logger;
  statusPollMs?: number;
  /** How long the AUP window stays after acceptance, so the pupil sees the thank-you. */
  aupCloseDelayMs?: number;
  /** How often the session's idle time goes to the service (default 5 s). */
  idleReportMs?: number;
}

const MAX_RECENT_BLOCKS = 20;

/**
 * Registers the page scheme; Electron allows this only before the app is ready. Standard and
 * secure so 'self' in the CSP and module scripts work; fetch support because Vite's module
 * scripts are loaded in CORS mode (same origin: no CORS headers needed).
 */
export function registerPageScheme(electron: Pick<ElectronApi, 'protocol'>): void {
  electron.protocol.registerSchemesAsPrivileged([{ scheme: PAGE_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } }]);
}

/**
 * The tray app's main process: one instance per user, a tray icon saying connected / offline /
 * action needed, a menu, notifications for blocks and warnings, the pages, and the AUP gate in
 * a kiosk window the pupil cannot close. Every page call is checked: the sender must be one of
 * our pages, allowed that channel, and its argument must pass the shared schema.
 */
export class TrayApp {
  state: TrayState = 'offline';
  status: TrayStatus | null = null;
  readonly windows = new Map<TrayPage, BrowserWindowLike>();
  private tray: TrayLike | null = null;
  private recentBlocks: BlockedProgram[] = [];
  private currentBlock: BlockedProgram | null = null;
  private selectedForRequest: string | null = null;
  private aupAccepted = false;
  private pollTimer: NodeJS.Timeout | null = null;
  private refreshing: Promise<void> | null = null;
  private powerReports: PowerReports | null = null;

  private constructor(private readonly options: TrayAppOptions) {}

  /** Null when another instance of the tray already runs for this user (this one quits). */
  static async start(options: TrayAppOptions): Promise<TrayApp | null> {
    const { app } = options.electron;
    if (!app.requestSingleInstanceLock()) {
      options.log.info('the tray is already running for this user; quitting');
      app.quit();
      return null;
    }
    const tray = new TrayApp(options);
    app.on('second-instance', () => tray.openPage('status'));
    // A tray app lives on with no window open.
    app.on('window-all-closed', () => undefined);
    app.on('web-contents-created', (_event, contents) => hardenContents(contents, options.log));
    await app.whenReady();
    tray.init();
    return tray;
  }

  private init(): void {
    const { electron, service, pagesRoot } = this.options;
    electron.session.defaultSession.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
    electron.protocol.handle(PAGE_SCHEME, (request) => servePage(pagesRoot, request.url));
    this.registerIpc();
    this.tray = new electron.Tray(this.options.icons.offline);
    this.render();
    service.on('change', () => void this.refresh());
    service.on('notice', (notice) => this.onNotice(notice));
    this.pollTimer = setInterval(() => void this.refresh(), this.options.statusPollMs ?? 30_000);
    this.powerReports = new PowerReports({ powerMonitor: electron.powerMonitor, service, log: this.options.log, intervalMs: this.options.idleReportMs });
    void this.refresh();
  }

  stop(): void {
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.powerReports?.stop();
    this.tray?.destroy();
    this.options.service.close();
  }

  /** Asks the service for the current status; the icon, menu and AUP gate follow it. */
  refresh(): Promise<void> {
    this.refreshing ??= this.fetchStatus().finally(() => (this.refreshing = null));
    return this.refreshing;
  }

  private async fetchStatus(): Promise<void> {
    const { service, log } = this.options;
    if (!service.connected) {
      this.status = null;
    } else {
      try {
        this.status = await service.call('status', {});
      } catch (error) {
        log.warn('could not read the service status', { error });
        this.status = null;
      }
    }
    this.state = !this.status ? 'offline' : this.status.aupNeeded ? 'action-needed' : this.status.consoleConnected ? 'connected' : 'offline';
    this.render();
    if (this.status?.aupNeeded) this.showAupGate();
  }

  private render(): void {
    if (!this.tray) return;
    const { electron, icons, service } = this.options;
    this.tray.setImage(icons[this.state]);
    this.tray.setToolTip(
      this.state === 'action-needed'
        ? 'Vigil: action needed. Please read and accept the computer rules.'
        : this.state === 'connected'
          ? 'Vigil: connected to school'
          : `Vigil: offline${service.connected ? ' (school cannot be reached; rules still apply)' : ` (${service.problem ?? 'service not running'})`}`,
    );
    this.tray.setContextMenu(electron.Menu.buildFromTemplate(this.menu()));
  }

  menu(): MenuItemSpec[] {
    const summary = this.status ? monitoredSummary(this.status.monitoring) : 'Monitoring: not known (Vigil service not reachable)';
    return [
      { id: 'monitored', label: summary, click: () => this.openPage('status') },
      { type: 'separator' },
      { id: 'aup', label: 'View the computer rules (AUP)', click: () => this.viewAup() },
      { id: 'request-app', label: 'Ask for an app…', click: () => this.openRequest(null) },
      { id: 'concern', label: 'Report a concern…', click: () => this.openPage('concern') },
      { id: 'lock', label: 'Lock now', enabled: this.options.service.connected, click: () => void this.lockNow() },
      { type: 'separator' },
      { id: 'about', label: 'About and diagnostics', click: () => this.openPage('status', '#diagnostics') },
    ];
  }

  private viewAup(): void {
    if (this.status?.aupNeeded) this.showAupGate();
    else this.openPage('status', '#aup');
  }

  private async lockNow(): Promise<BridgeResult<{ locked: boolean; detail: string }>> {
    try {
      return { ok: true, value: await this.options.service.call('lock.now', {}) };
    } catch (error) {
      return { ok: false, message: (error as Error).message };
    }
  }

  onNotice(notice: ServiceNotice): void {
    const { Notification } = this.options.electron;
    if (notice.notice === 'aup.needed') return void this.refresh();
    if (!Notification.isSupported()) return;
    if (notice.notice === 'session.warning') {
      new Notification({ title: 'Save your work', body: notice.text }).show();
      return;
    }
    if (notice.notice === 'usb.drive') {
      new Notification({ title: notice.title, body: `${notice.why}\n${notice.whatToDo}` }).show();
      return;
    }
    const program = notice.program;
    this.recentBlocks = [program, ...this.recentBlocks.filter((p) => p.path !== program.path || p.sha256 !== program.sha256)].slice(0, MAX_RECENT_BLOCKS);
    const shown = new Notification({
      title: program.mode === 'enforce' ? `${program.name} was blocked` : `${program.name} is not approved`,
      body: "The school's rules allow only approved programs on this computer.",
      ...(program.sha256 ? { actions: [{ type: 'button' as const, text: 'Ask for permission' }] } : {}),
    });
    shown.on('click', () => ((this.currentBlock = program), this.openPage('blocked')));
    shown.on('action', () => this.openRequest(program.sha256));
    shown.show();
  }

  private openRequest(sha256: string | null): void {
    this.selectedForRequest = sha256;
    this.openPage('request-app');
  }

  /** One window per page; asking again brings it to the front. */
  openPage(page: Exclude<TrayPage, 'aup'>, hash = ''): BrowserWindowLike {
    const open = this.windows.get(page);
    if (open && !open.isDestroyed()) {
      open.show();
      open.focus();
      return open;
    }
    const window = this.createWindow(page, { width: 560, height: 680, title: TITLES[page], show: false, autoHideMenuBar: true, resizable: true });
    window.on('ready-to-show', () => window.show());
    void window.loadURL(pageUrl(page) + hash);
    return window;
  }

  /** The AUP gate: full screen, kiosk, above everything, and it cannot be closed or minimised. */
  showAupGate(): BrowserWindowLike {
    const open = this.windows.get('aup');
    if (open && !open.isDestroyed()) {
      open.focus();
      return open;
    }
    this.aupAccepted = false;
    const window = this.createWindow('aup', {
      title: 'Computer rules',
      show: true,
      autoHideMenuBar: true,
      kiosk: true,
      fullscreen: true,
      alwaysOnTop: true,
      closable: false,
      minimizable: false,
      maximizable: false,
      resizable: false,
      skipTaskbar: true,
      frame: false,
    });
    window.setAlwaysOnTop(true, 'screen-saver');
    window.on('close', (event) => {
      if (!this.aupAccepted) event.preventDefault();
    });
    // Clicking or switching away does not get around it.
    window.on('blur', () => {
      if (!this.aupAccepted && !window.isDestroyed()) window.focus();
    });
    void window.loadURL(pageUrl('aup'));
    return window;
  }

  private createWindow(page: TrayPage, spec: Omit<BrowserWindowSpec, 'webPreferences'>): BrowserWindowLike {
    const window = new this.options.electron.BrowserWindow({
      ...spec,
      webPreferences: {
        preload: this.options.preloadPath,
        contextIsolation: true,
        sandbox: true,
        nodeIntegration: false,
        nodeIntegrationInSubFrames: false,
        webSecurity: true,
        allowRunningInsecureContent: false,
        webviewTag: false,
        spellcheck: false,
      },
    });
    this.windows.set(page, window);
    window.on('closed', () => {
      if (this.windows.get(page) === window) this.windows.delete(page);
    });
    return window;
  }

  private registerIpc(): void {
    const { service } = this.options;
    const call = async <T>(work: () => Promise<T>): Promise<BridgeResult<T>> => {
      try {
        return { ok: true, value: await work() };
      } catch (error) {
        return { ok: false, message: (error as Error).message.slice(0, 500) };
      }
    };
    const parse = <S extends z.ZodType>(schema: S, value: unknown): z.infer<S> => {
      const parsed = schema.safeParse(value);
      if (!parsed.success) throw new Error('the page sent something that is not valid');
      return parsed.data;
    };
    this.handle(TRAY_CHANNELS.status, () => call(async () => (await this.refresh(), this.statusView())));
    this.handle(TRAY_CHANNELS.lockNow, () => this.lockNow());
    this.handle(TRAY_CHANNELS.requestContext, () =>
      call(async (): Promise<RequestContext> => ({ programs: this.recentBlocks, selected: this.selectedForRequest })),
    );
    this.handle(TRAY_CHANNELS.requestApp, (arg) =>
      call(async () => {
        const { sha256, reason } = parse(RequestAppArgSchema, arg);
        const program = this.recentBlocks.find((p) => p.sha256 === sha256);
        if (!program?.sha256) throw new Error('that program has not been blocked on this computer recently');
        return service.call('app.request', {
          ask: { name: program.name, path: program.path, sha256: program.sha256, signer: program.signer, reason: reason?.trim() || null },
        });
      }),
    );
    this.handle(TRAY_CHANNELS.reportConcern, (arg) => call(async () => service.call('concern.report', { submission: parse(ConcernArgSchema, arg) })));
    this.handle(TRAY_CHANNELS.blocked, () => call(async () => this.currentBlock ?? this.recentBlocks[0] ?? null));
    this.handle(TRAY_CHANNELS.askPermission, () =>
      call(async () => {
        this.openRequest((this.currentBlock ?? this.recentBlocks[0])?.sha256 ?? null);
        return { done: true as const };
      }),
    );
    this.handle(TRAY_CHANNELS.close, (_arg, page) =>
      call(async () => {
        this.windows.get(page)?.close();
        return { done: true as const };
      }),
    );
    // The AUP page's bridge (src/shared/aup-bridge.ts): it parses these answers itself.
    this.handle(TRAY_CHANNELS.aupLoad, async () => {
      const decision = await service.call('aup.decide', {});
      if (!decision.needed) throw new Error('There are no rules waiting for you to accept.');
      return decision.page;
    });
    this.handle(TRAY_CHANNELS.aupAccept, async (arg) => {
      const result = await service.call('aup.accept', { request: parse(AupAcceptRequestSchema, arg) });
      if (result.ok) {
        this.aupAccepted = true;
        setTimeout(() => {
          this.windows.get('aup')?.close();
          void this.refresh();
        }, this.options.aupCloseDelayMs ?? 1500);
      }
      return result;
    });
    this.handle(TRAY_CHANNELS.aupDecline, async () => service.call('aup.decline', {}));
  }

  /** A channel answered only for our own pages that may use it, from the window showing that page. */
  private handle(channel: TrayChannel, handler: (arg: unknown, page: TrayPage) => Promise<unknown>): void {
    this.options.electron.ipcMain.handle(channel, (event: IpcMainEventLike, arg: unknown) => {
      const page = this.senderPage(event, channel);
      if (!page) {
        this.options.log.warn('refused a bridge call from a sender that may not make it', { channel, url: event.senderFrame?.url ?? null });
        throw new Error('refused');
      }
      return handler(arg, page);
    });
  }

  senderPage(event: IpcMainEventLike, channel: TrayChannel): TrayPage | null {
    const page = pageOf(event.senderFrame?.url);
    if (!page || !PAGE_CHANNELS[page].includes(channel)) return null;
    const window = this.windows.get(page);
    return window && !window.isDestroyed() && window.webContents.id === event.sender.id ? page : null;
  }

  private statusView(): StatusView {
    const { service, trayVersion, userMode } = this.options;
    return {
      service: this.status,
      monitored: this.status ? monitoredNow(this.status.monitoring) : [],
      serviceProblem: service.connected ? null : (service.problem ?? 'the Vigil service is not running'),
      trayVersion,
      userMode,
    };
  }
}

const TITLES: Record<Exclude<TrayPage, 'aup'>, string> = {
  status: 'Vigil: what is monitored',
  'request-app': 'Ask for an app',
  concern: 'Report a concern',
  blocked: 'Program blocked',
};

/** Every page: no new windows, no navigation away, no <webview>. */
export function hardenContents(contents: WebContentsLike, log: Logger): void {
  contents.setWindowOpenHandler(({ url }) => {
    log.warn('refused to open a new window', { url });
    return { action: 'deny' };
  });
  const refuse = (event: { preventDefault(): void }, url: string) => {
    event.preventDefault();
    log.warn('refused navigation', { url });
  };
  contents.on('will-navigate', refuse);
  contents.on('will-redirect', refuse);
  contents.on('will-attach-webview', (event) => event.preventDefault());
}
