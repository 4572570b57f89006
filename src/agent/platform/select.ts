import type { AgentPlatform } from './agent-platform.js';
import { darwinPlatform } from './darwin/index.js';
import { linuxPlatform } from './linux/index.js';
import { otherPlatform } from './other/index.js';
import { win32Platform } from './win32/index.js';

/** The one place the agent chooses by OS: called once, by the composition root. */
export function platformFor(os: NodeJS.Platform): AgentPlatform {
  if (os === 'linux') return linuxPlatform();
  if (os === 'darwin') return darwinPlatform();
  if (os === 'win32') return win32Platform();
  return otherPlatform(os);
}
