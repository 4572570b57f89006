import { activeWindow, type Result } from 'get-windows';
import type { RawWindow, WindowDetail, WindowSource } from './window-source.js';

/**
 * A get-windows result as we report it. macOS gives an empty title without the Screen Recording
 * permission, and a URL for known browsers; an empty string means "not known" (null) here.
 */
export function rawFromGetWindows(result: Result): RawWindow {
  const orNull = (s: unknown) => (typeof s === 'string' && s !== '' ? s : null);
  return {
    app: typeof result.owner?.name === 'string' ? result.owner.name : '',
    title: orNull(result.title),
    url: result.platform === 'macos' ? orNull(result.url) : null,
    path: orNull(result.owner?.path),
  };
}

/**
 * get-windows, one call per sample: the backend for Windows and macOS, where it reads the
 * foreground window natively (unverified here: no such machines). On Linux it reads the
 * process's own DISPLAY and spawns xprop twice and xwininfo once per call; the X11 source
 * (xprop-spy) replaces it there, and the benchmark compares the two.
 */
export class GetWindowsSource implements WindowSource {
  readonly name = 'get-windows';
  readonly problem = null;

  constructor(private readonly detail: WindowDetail = 'full') {}

  start(): void {}
  stop(): void {}

  async sample(): Promise<RawWindow | null> {
    // App-only: do not ask macOS for the permissions that reveal titles and URLs at all.
    const options = this.detail === 'full' ? undefined : { accessibilityPermission: false, screenRecordingPermission: false };
    const w = await activeWindow(options).catch(() => undefined);
    return w ? rawFromGetWindows(w) : null;
  }
}
