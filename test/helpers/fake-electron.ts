import { EventEmitter } from 'node:events';
import type {
  BrowserWindowLike,
  BrowserWindowSpec,
  ElectronApi,
  IpcMainEventLike,
  MenuItemSpec,
  NotificationLike,
  PowerMonitorLike,
  SystemIdleState,
  TrayLike,
  WebContentsLike,
} from '../../main/electron-api.js';
import type { ServiceConnection } from '../../main/service-connection.js';
import type { ServiceNotice, TrayOp } from '../../src/shared/local-ipc.js';

/**
 * A minimal fake of the Electron APIs the tray uses (main/electron-api.ts), recording what the
 * app asked for so tests can check windows, menus, notifications and IPC without Electron.
 */
export class FakeWindow extends EventEmitter implements BrowserWindowLike {
  static nextId = 1;
  readonly webContents = { id: FakeWindow.nextId++ };
  url: string | null = null;
  shown = false;
  focused = 0;
  destroyed = false;
  alwaysOnTopLevel: string | null = null;

  constructor(readonly spec: BrowserWindowSpec) {
    super();
  }
  async loadURL(url: string) {
    this.url = url;
  }
  show() {
    this.shown = true;
  }
  focus() {
    this.focused++;
  }
  /** Like Electron: 'close' listeners may prevent it; otherwise the window goes and 'closed' fires. */
  close() {
    let prevented = false;
    this.emit('close', { preventDefault: () => (prevented = true) });
    if (!prevented) this.destroy();
  }
  destroy() {
    if (this.destroyed) return;
    this.destroyed = true;
    this.emit('closed');
  }
  isDestroyed() {
    return this.destroyed;
  }
  setAlwaysOnTop(_flag: boolean, level?: 'screen-saver') {
    this.alwaysOnTopLevel = level ?? null;
  }
}

export class FakeContents extends EventEmitter implements WebContentsLike {
  id = 999;
  openHandler: ((d: { url: string }) => { action: 'deny' }) | null = null;
  setWindowOpenHandler(handler: (d: { url: string }) => { action: 'deny' }) {
    this.openHandler = handler;
  }
}

/** powerMonitor: tests emit 'suspend', 'resume', 'lock-screen'... and set what it reads. */
export class FakePowerMonitor extends EventEmitter implements PowerMonitorLike {
  idleSeconds = 0;
  screenLocked = false;
  getSystemIdleTime(): number {
    return this.idleSeconds;
  }
  getSystemIdleState(idleThresholdSeconds: number): SystemIdleState {
    return this.screenLocked ? 'locked' : this.idleSeconds >= idleThresholdSeconds ? 'idle' : 'active';
  }
}

export class FakeElectron implements ElectronApi {
  lockGranted = true;
  quits = 0;
  readonly appEvents = new EventEmitter();
  readonly schemes: string[] = [];
  readonly protocolHandlers = new Map<string, (r: Request) => Response | Promise<Response>>();
  readonly ipcHandlers = new Map<string, (event: IpcMainEventLike, ...args: unknown[]) => unknown>();
  permissionHandler: ((c: unknown, p: string, cb: (g: boolean) => void) => void) | null = null;
  readonly trays: (TrayLike & { image: string; tooltip: string; menu: MenuItemSpec[] })[] = [];
  readonly windows: FakeWindow[] = [];
  readonly notifications: (NotificationLike & {
    options: { title: string; body: string; actions?: { text: string }[] };
    shown: boolean;
    events: EventEmitter;
  })[] = [];
  readonly secretBackend = { available: true, backend: 'gnome_libsecret' };
  readonly powerMonitor = new FakePowerMonitor();

  app = {
    requestSingleInstanceLock: () => this.lockGranted,
    quit: () => void this.quits++,
    whenReady: async () => undefined,
    getVersion: () => '0.1.0-test',
    on: (event: string, listener: (...args: any[]) => void) => this.appEvents.on(event, listener),
  } as ElectronApi['app'];

  protocol: ElectronApi['protocol'] = {
    registerSchemesAsPrivileged: (schemes) => void this.schemes.push(...schemes.map((s) => `${s.scheme}:${JSON.stringify(s.privileges)}`)),
    handle: (scheme, handler) => void this.protocolHandlers.set(scheme, handler),
  };

  ipcMain: ElectronApi['ipcMain'] = { handle: (channel, listener) => void this.ipcHandlers.set(channel, listener) };

  session: ElectronApi['session'] = { defaultSession: { setPermissionRequestHandler: (h) => void (this.permissionHandler = h) } };

  Menu = { buildFromTemplate: (template: MenuItemSpec[]) => template };

  readonly Tray: ElectronApi['Tray'];
  readonly BrowserWindow: ElectronApi['BrowserWindow'];
  readonly Notification: ElectronApi['Notification'];

  safeStorage: ElectronApi['safeStorage'] = {
    isEncryptionAvailable: () => this.secretBackend.available,
    getSelectedStorageBackend: () => this.secretBackend.backend,
    // Not real encryption: enough to see that what is written is not the plain text.
    encryptString: (plain) => Buffer.from(`enc:${Buffer.from(plain).toString('base64')}`),
    decryptString: (data) => Buffer.from(data.toString().replace(/^enc:/, ''), 'base64').toString(),
  };

  constructor() {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the fake's inner classes report to the fake itself
    const fake = this;
    this.Tray = class {
      image: string;
      tooltip = '';
      menu: MenuItemSpec[] = [];
      constructor(image: string) {
        this.image = image;
        fake.trays.push(this);
      }
      setImage(image: string) {
        this.image = image;
      }
      setToolTip(text: string) {
        this.tooltip = text;
      }
      setContextMenu(menu: unknown) {
        this.menu = menu as MenuItemSpec[];
      }
      destroy() {}
    };
    this.BrowserWindow = class extends FakeWindow {
      constructor(spec: BrowserWindowSpec) {
        super(spec);
        fake.windows.push(this);
      }
    };
    const N = class {
      static isSupported() {
        return true;
      }
      shown = false;
      events = new EventEmitter();
      constructor(readonly options: { title: string; body: string; actions?: { text: string }[] }) {
        fake.notifications.push(this);
      }
      show() {
        this.shown = true;
      }
      on(event: string, listener: (...args: any[]) => void) {
        this.events.on(event, listener);
        return this;
      }
    };
    this.Notification = N as unknown as ElectronApi['Notification'];
  }

  /** Calls an IPC channel as a page would: from a frame URL and a webContents id. */
  async invoke(channel: string, from: { url: string; senderId: number }, arg?: unknown): Promise<unknown> {
    const handler = this.ipcHandlers.get(channel);
    if (!handler) throw new Error(`no handler for ${channel}`);
    return handler({ sender: { id: from.senderId }, senderFrame: { url: from.url } }, arg);
  }

  get tray() {
    return this.trays[0]!;
  }

  windowAt(urlPart: string): FakeWindow | undefined {
    return this.windows.filter((w) => !w.destroyed).find((w) => w.url?.includes(urlPart));
  }
}

/** A service connection answering from a table, recording every call. */
export class FakeService extends EventEmitter<{ notice: [ServiceNotice]; change: [] }> implements ServiceConnection {
  connected = true;
  problem: string | null = null;
  readonly calls: { op: TrayOp; fields: unknown }[] = [];
  constructor(public answers: Partial<Record<TrayOp, (fields: any) => unknown>>) {
    super();
  }
  async call(op: TrayOp, fields: unknown): Promise<any> {
    this.calls.push({ op, fields });
    const answer = this.answers[op];
    if (!answer) throw new Error(`the fake service has no answer for ${op}`);
    return answer(fields);
  }
  close() {}
}
