import { GetWindowsSource } from '../activity/get-windows-source.js';
import type { WindowDetail, WindowSource } from '../activity/window-source.js';
import { XpropWindowSource } from './linux/activity/xprop-source.js';

/** The window source for this OS; `env` is the session's (DISPLAY, XAUTHORITY) on Linux. */
export function windowSourceFor(platform: NodeJS.Platform, env: NodeJS.ProcessEnv): (detail: WindowDetail) => WindowSource {
  if (platform === 'linux') return (detail) => new XpropWindowSource(env, detail);
  return (detail) => new GetWindowsSource(detail);
}
