import { readlinkSync, realpathSync } from 'node:fs';
import type { PeerCredentials } from './peercred.js';

/**
 * Whether a tray-socket peer is the installed tray, as the kernel says: the executable of the
 * peer's process (`/proc/PID/exe`, a link the kernel keeps, which the process cannot write),
 * compared with the installed tray executables. Not the process's own word (its argv or name).
 *
 * What this does not stop (docs/security.md, "Local IPC"): a process of the same user that
 * runs the installed tray binary itself with other arguments (Electron's fuses must disable
 * RunAsNode and the inspector flags in the packaged tray), or that attaches to the tray with
 * ptrace (Yama's ptrace_scope 1, Debian's and Ubuntu's default, allows a user's process to trace
 * only its own descendants, and the tray is started by the session, not by the pupil's shell).
 *
 * Null where nothing is configured (development) or the OS gives no such link (macOS, Windows:
 * not checked yet, documented); false when the link cannot be read (the process is gone).
 */
export function trayExecutableCheck(
  executables: readonly string[],
  platform: NodeJS.Platform = process.platform,
  exeOf: (pid: number) => string = (pid) => readlinkSync(`/proc/${pid}/exe`),
): ((peer: PeerCredentials) => boolean | null) | undefined {
  if (!executables.length || platform !== 'linux') return undefined;
  // Installed paths may be links (/usr/bin/vigil-tray -> /opt/Vigil/vigil-tray); the kernel reports the target.
  const installed = new Set(executables.map((path) => realpathSync(path)));
  return ({ pid }) => {
    if (!Number.isInteger(pid) || pid <= 0) return false;
    try {
      return installed.has(exeOf(pid));
    } catch {
      return false;
    }
  };
}
