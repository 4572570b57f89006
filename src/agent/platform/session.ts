import type { CommandRunner, SessionPlatform, SessionTarget } from '../session/platform.js';
import type { SeatSession, SessionLister } from '../session/seat.js';
import { darwinSessionLister } from './darwin/seat.js';
import { linuxSessionLister } from './linux/session/seat.js';
import { sessionXauthority } from './linux/session/session-processes.js';
import { win32SessionLister } from './win32/seat.js';
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

/** How this OS lists signed-in desktop sessions (for following sign-ins). */
export function sessionListerFor(platform: NodeJS.Platform, run: CommandRunner, options: { utmpFile?: string } = {}): SessionLister | null {
  if (platform === 'linux') return linuxSessionLister(run, options);
  if (platform === 'win32') return win32SessionLister(run);
  if (platform === 'darwin') return darwinSessionLister(run);
  return null;
}

/** What session control needs to control a followed sign-in. */
export function targetForSeat(platform: NodeJS.Platform, seat: SeatSession): SessionTarget {
  const xauthority = platform === 'linux' && seat.display && seat.uid !== undefined ? sessionXauthority(seat.display, seat.uid) : undefined;
  return { display: seat.display, uid: seat.uid, sessionId: seat.sessionId, ...(xauthority ? { xauthority } : {}) };
}
