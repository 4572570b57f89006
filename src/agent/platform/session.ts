import type { CommandRunner, SessionPlatform, SessionTarget } from '../session/platform.js';
import { darwinSessionPlatform } from './darwin/session.js';
import { linuxSessionPlatform } from './linux/session/index.js';
import { win32SessionPlatform } from './win32/session.js';

/** The session backends for this OS. */
export function sessionPlatformFor(platform: NodeJS.Platform, run: CommandRunner, target: SessionTarget): SessionPlatform | null {
  if (platform === 'linux') return linuxSessionPlatform(run, target);
  if (platform === 'win32') return win32SessionPlatform(run, target);
  if (platform === 'darwin') return darwinSessionPlatform(run, target);
  return null;
}
