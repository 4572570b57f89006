// The pages' only door to the main process. Sandboxed preloads run as CommonJS with a small
// `require` (electron only), so this file stays dependency-free: each page gets just its own
// calls, and main checks sender, channel and argument (src/shared/tray-bridge.ts) again.
import { contextBridge, ipcRenderer } from 'electron';

declare const location: { protocol: string; pathname: string };

// Keep in step with TRAY_CHANNELS / PAGE_CHANNELS in src/shared/tray-bridge.ts (a unit test compares them).
const page = location.protocol === 'vigil-app:' ? location.pathname.split('/')[1] : '';
const invoke = (channel: string) => (arg?: unknown) => ipcRenderer.invoke(channel, arg);

if (page === 'aup') {
  contextBridge.exposeInMainWorld('vigilAup', {
    load: invoke('vigil:aup:load'),
    accept: invoke('vigil:aup:accept'),
    decline: invoke('vigil:aup:decline'),
  });
} else if (page === 'status') {
  contextBridge.exposeInMainWorld('vigilTray', { status: invoke('vigil:status'), lockNow: invoke('vigil:lock-now'), close: invoke('vigil:close') });
} else if (page === 'request-app') {
  contextBridge.exposeInMainWorld('vigilTray', {
    requestContext: invoke('vigil:request-app:context'),
    requestApp: invoke('vigil:request-app'),
    close: invoke('vigil:close'),
  });
} else if (page === 'concern') {
  contextBridge.exposeInMainWorld('vigilTray', { reportConcern: invoke('vigil:report-concern'), close: invoke('vigil:close') });
} else if (page === 'blocked') {
  contextBridge.exposeInMainWorld('vigilTray', {
    blocked: invoke('vigil:blocked'),
    askPermission: invoke('vigil:ask-permission'),
    close: invoke('vigil:close'),
  });
}
