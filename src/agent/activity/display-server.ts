/**
 * Which display server the session runs. get-windows (and our xprop source) only see X11
 * windows; under Wayland they would see nothing, or only XWayland windows, so the sampler says
 * so (`pausedReason: 'wayland'`) instead of reporting a misleading picture.
 */
/** `native`: Windows and macOS, whose window systems get-windows reads directly. */
export type DisplayServer = 'x11' | 'wayland' | 'native' | 'none';

export function displayServerOf(env: Readonly<Record<string, string | undefined>>, platform: NodeJS.Platform = 'linux'): DisplayServer {
  if (platform === 'win32' || platform === 'darwin') return 'native';
  if (env.XDG_SESSION_TYPE === 'wayland') return 'wayland';
  if (env.WAYLAND_DISPLAY && !env.DISPLAY) return 'wayland';
  return env.DISPLAY ? 'x11' : 'none';
}
