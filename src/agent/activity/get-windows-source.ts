import { activeWindow } from 'get-windows';
import type { RawWindow, WindowSource } from './window-source.js';

/**
 * get-windows, one call per sample: the backend for Windows and macOS, where it reads the
 * foreground window natively (unverified here: no such machines). On Linux it reads the
 * process's own DISPLAY and spawns xprop twice and xwininfo once per call; the X11 source
 * (xprop-spy) replaces it there, and the benchmark compares the two.
 */
export class GetWindowsSource implements WindowSource {
  readonly name = 'get-windows';
  readonly problem = null;

  start(): void {}
  stop(): void {}

  async sample(): Promise<RawWindow | null> {
    const w = await activeWindow().catch(() => undefined);
    if (!w) return null;
    return {
      app: w.owner.name,
      title: w.title ?? null,
      url: 'url' in w && typeof w.url === 'string' ? w.url : null,
      path: w.owner.path ?? null,
    };
  }
}
