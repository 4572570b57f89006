import type { CommandRunner, SessionPlatform, SessionTarget } from '../../session/platform.js';

const CGSESSION = '/System/Library/CoreServices/Menu Extras/User.menu/Contents/Resources/CGSession';

/** AppleScript that shows its first argument: the text is never spliced into the script. */
const DIALOG = ['-e', 'on run argv', '-e', 'display dialog (item 1 of argv) with title "Vigil" buttons {"OK"} giving up after 30', '-e', 'end run'];

/**
 * macOS session control, written against documented commands and checked only by recorded
 * command lines until a macOS runner exists.
 * - Idle: `ioreg -c IOHIDSystem` → HIDIdleTime (nanoseconds).
 * - Lock: `pmset displaysleepnow` (locks when "require password immediately" is set, the MDM
 *   default for schools), else `CGSession -suspend` (fast user switching screen; older systems).
 * - Logoff: `launchctl bootout gui/<uid>` ends the user's GUI domain (their login session).
 * - Warning/message: `launchctl asuser <uid> osascript` so the dialog opens in the user's session.
 */
export function darwinSessionPlatform(run: CommandRunner, target: SessionTarget): SessionPlatform {
  const asUser = (args: string[]): [string, string[]] =>
    target.uid === undefined ? ['osascript', args] : ['launchctl', ['asuser', String(target.uid), 'osascript', ...args]];
  return {
    platform: 'darwin',
    idle: {
      name: 'ioreg HIDIdleTime',
      async idleMs() {
        const out = await run.run('ioreg', ['-c', 'IOHIDSystem', '-d', '4']);
        const match = /"HIDIdleTime"\s*=\s*(\d+)/.exec(out.stdout);
        return out.code === 0 && match ? Math.floor(Number(match[1]) / 1e6) : null;
      },
    },
    lockers: [
      {
        name: 'pmset displaysleepnow',
        available: () => true,
        async lock() {
          const out = await run.run('pmset', ['displaysleepnow']);
          return { ok: out.code === 0, detail: `pmset displaysleepnow: exit ${out.code}` };
        },
      },
      {
        name: 'CGSession -suspend',
        available: () => true,
        async lock() {
          const out = await run.run(CGSESSION, ['-suspend']);
          return { ok: out.code === 0, detail: `CGSession -suspend: exit ${out.code}` };
        },
      },
    ],
    logoff: [
      {
        name: 'launchctl bootout',
        available: () => target.uid !== undefined,
        async logoff() {
          const out = await run.run('launchctl', ['bootout', `gui/${target.uid}`], 30_000);
          return { ok: out.code === 0, detail: `launchctl bootout gui/${target.uid}: exit ${out.code}` };
        },
      },
    ],
    warning: {
      name: 'osascript',
      available: () => true,
      show(text) {
        const [cmd, args] = asUser([...DIALOG, text]);
        void run.run(cmd, args, 35_000);
      },
      hide() {
        /* the dialog gives up by itself */
      },
      async message(text) {
        const [cmd, args] = asUser([...DIALOG, text]);
        const out = await run.run(cmd, args, 35_000);
        return { ok: out.code === 0, detail: `osascript: exit ${out.code}` };
      },
    },
  };
}
