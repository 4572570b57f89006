import type { CommandRunner } from '../../session/platform.js';
import type { SeatSession, SessionLister } from '../../session/seat.js';

/**
 * `query user` (quser.exe, documented with Remote Desktop Services), one line per session:
 *   ` USERNAME  SESSIONNAME  ID  STATE  IDLE TIME  LOGON TIME`, the current one marked ">";
 * SESSIONNAME is blank for a disconnected session. The console session is the seat; RDP
 * sessions ("rdp-tcp#0") are not local. Column titles and states are localised on non-English
 * Windows: only English states are read here (WTSEnumerateSessions in the tray is the
 * language-free source).
 */
export function parseQueryUser(stdout: string): SeatSession[] {
  const sessions: SeatSession[] = [];
  for (const line of stdout.split(/\r?\n/)) {
    const m = /^[ >](\S+)\s+(?:(\S+)\s+)?(\d+)\s+(Active|Disc|Conn|ConnQ|Shadow|Listen|Down|Idle|Init)\b/.exec(line);
    if (!m) continue;
    const [, user, sessionName, id, state] = m;
    sessions.push({ id: id!, sessionId: id!, user: user!, local: (sessionName ?? '').toLowerCase() === 'console', active: state === 'Active' });
  }
  return sessions;
}

export function win32SessionLister(run: CommandRunner): SessionLister {
  return {
    name: 'query user',
    async list() {
      const out = await run.run('query.exe', ['user']);
      // Exit code 1 with "No User exists for *" when nobody is signed in.
      if (out.code !== 0 && !/no user exists/i.test(out.stderr + out.stdout)) return null;
      return parseQueryUser(out.stdout);
    },
  };
}
