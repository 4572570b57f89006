/**
 * The part of Electron's API the tray uses, with Electron's own names and shapes. main/index.ts
 * passes the real `electron` module (the compiler checks it fits); the unit tests pass a small
 * fake. Nothing else in main/ imports 'electron', so everything else runs under plain Node.
 */

export interface WebPreferencesSpec {
  preload: string;
  contextIsolation: true;
  sandbox: true;
  nodeIntegration: false;
  nodeIntegrationInSubFrames: false;
  webSecurity: true;
  allowRunningInsecureContent: false;
  webviewTag: false;
  spellcheck: false;
}

export interface BrowserWindowSpec {
  width?: number;
  height?: number;
  title: string;
  show: boolean;
  autoHideMenuBar: boolean;
  resizable?: boolean;
  kiosk?: boolean;
  fullscreen?: boolean;
  alwaysOnTop?: boolean;
  closable?: boolean;
  minimizable?: boolean;
  maximizable?: boolean;
  skipTaskbar?: boolean;
  frame?: boolean;
  webPreferences: WebPreferencesSpec;
}

export interface PreventableEvent {
  preventDefault(): void;
}

export interface WebContentsLike {
  id: number;
  setWindowOpenHandler(handler: (details: { url: string }) => { action: 'deny' }): void;
  on(event: 'will-navigate' | 'will-redirect', listener: (event: PreventableEvent, url: string) => void): unknown;
  on(event: 'will-attach-webview', listener: (event: PreventableEvent) => void): unknown;
}

export interface BrowserWindowLike {
  webContents: { id: number };
  loadURL(url: string): Promise<void>;
  show(): void;
  focus(): void;
  close(): void;
  destroy(): void;
  isDestroyed(): boolean;
  setAlwaysOnTop(flag: boolean, level?: 'screen-saver'): void;
  on(event: 'close', listener: (event: PreventableEvent) => void): unknown;
  on(event: 'closed' | 'blur' | 'ready-to-show', listener: () => void): unknown;
}

export interface MenuItemSpec {
  id?: string;
  label?: string;
  type?: 'normal' | 'separator';
  enabled?: boolean;
  click?: () => void;
}

export interface TrayLike {
  setImage(image: string): void;
  setToolTip(text: string): void;
  setContextMenu(menu: unknown): void;
  destroy(): void;
}

export interface NotificationLike {
  show(): void;
  on(event: 'click', listener: () => void): unknown;
  on(event: 'action', listener: (event: unknown, index: number) => void): unknown;
}

export interface IpcMainEventLike {
  sender: { id: number };
  senderFrame: { url: string } | null;
}

/** Electron's getSystemIdleState answers. */
export type SystemIdleState = 'active' | 'idle' | 'locked' | 'unknown';

export interface PowerMonitorLike {
  on(event: 'suspend' | 'resume' | 'lock-screen' | 'unlock-screen', listener: () => void): unknown;
  removeListener(event: 'suspend' | 'resume' | 'lock-screen' | 'unlock-screen', listener: () => void): unknown;
  /** Whole seconds since the last keyboard or mouse input in this user's session. */
  getSystemIdleTime(): number;
  getSystemIdleState(idleThresholdSeconds: number): SystemIdleState;
}

export interface ElectronApi {
  app: {
    requestSingleInstanceLock(): boolean;
    quit(): void;
    whenReady(): Promise<unknown>;
    getVersion(): string;
    on(event: 'second-instance' | 'window-all-closed', listener: () => void): unknown;
    on(event: 'web-contents-created', listener: (event: unknown, contents: WebContentsLike) => void): unknown;
  };
  protocol: {
    registerSchemesAsPrivileged(schemes: { scheme: string; privileges: { standard: boolean; secure: boolean; supportFetchAPI: boolean } }[]): void;
    handle(scheme: string, handler: (request: Request) => Response | Promise<Response>): void;
  };
  ipcMain: {
    handle(channel: string, listener: (event: IpcMainEventLike, ...args: unknown[]) => unknown): void;
  };
  session: {
    defaultSession: {
      setPermissionRequestHandler(handler: (webContents: unknown, permission: string, callback: (granted: boolean) => void) => void): void;
    };
  };
  Menu: { buildFromTemplate(template: MenuItemSpec[]): unknown };
  Tray: new (image: string) => TrayLike;
  BrowserWindow: new (options: BrowserWindowSpec) => BrowserWindowLike;
  Notification: { isSupported(): boolean } & (new (options: { title: string; body: string; actions?: { type: 'button'; text: string }[] }) => NotificationLike);
  /** Usable only once the app is ready. */
  powerMonitor: PowerMonitorLike;
  safeStorage: {
    isEncryptionAvailable(): boolean;
    /** Linux only in Electron; absent elsewhere. */
    getSelectedStorageBackend?(): string;
    encryptString(plain: string): Buffer;
    decryptString(encrypted: Buffer): string;
  };
}
