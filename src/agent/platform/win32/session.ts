import type { CommandRunner, SessionPlatform, SessionTarget } from '../../session/platform.js';

/**
 * Windows session control, written against documented commands and checked only by recorded
 * command lines (test/unit/session-platforms.test.ts) until a Windows runner exists.
 * - Lock: `rundll32.exe user32.dll,LockWorkStation` (LockWorkStation locks the session of the
 *   calling process, so this must run inside the user's session — the tray app's job; from the
 *   service in session 0 it does nothing useful).
 * - Logoff: `logoff.exe <session id>` (Remote Desktop Services tools; ends that session), else
 *   `shutdown.exe /l` (logs off the calling session). WTSLogoffSession is the API equivalent.
 * - Warning and messages: `msg.exe <session id> /TIME:<s> <text>`.
 * - Idle: needs GetLastInputInfo inside the session (no command for it): the tray app.
 */
export function win32SessionPlatform(run: CommandRunner, target: SessionTarget): SessionPlatform {
  const session = target.sessionId ?? '*';
  return {
    platform: 'win32',
    idle: null,
    lockers: [
      {
        name: 'LockWorkStation',
        available: () => true,
        async lock() {
          const out = await run.run('rundll32.exe', ['user32.dll,LockWorkStation']);
          return { ok: out.code === 0, detail: out.code === 0 ? 'LockWorkStation' : `rundll32 failed: exit ${out.code}` };
        },
      },
    ],
    logoff: [
      {
        name: 'logoff.exe',
        available: () => target.sessionId !== undefined,
        async logoff() {
          const out = await run.run('logoff.exe', [target.sessionId!]);
          return { ok: out.code === 0, detail: `logoff.exe ${target.sessionId}: exit ${out.code}` };
        },
      },
      {
        name: 'shutdown /l',
        available: () => true,
        async logoff() {
          const out = await run.run('shutdown.exe', ['/l']);
          return { ok: out.code === 0, detail: `shutdown /l: exit ${out.code}` };
        },
      },
    ],
    warning: {
      name: 'msg.exe',
      available: () => true,
      show(text) {
        void run.run('msg.exe', [session, '/TIME:30', text]);
      },
      hide() {
        /* msg.exe windows close themselves after /TIME */
      },
      async message(text) {
        const out = await run.run('msg.exe', [session, '/TIME:600', text]);
        return { ok: out.code === 0, detail: `msg.exe: exit ${out.code}` };
      },
    },
  };
}
