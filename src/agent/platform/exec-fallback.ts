import { readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ExecMode, ExecWatchRecord } from '../../shared/exec.js';
import type { ExecFallback } from '../app-control.js';
import type { BuiltinAllow, ExecDecide } from '../exec/decision.js';
import { FallbackWatcher, whyNotActOn } from '../exec/fallback.js';
import type { CommandRunner } from '../session/platform.js';
import { PsPollBackend } from './darwin/exec-control.js';
import { systemBuiltins } from './linux/exec-gate.js';
import { linuxWatchBackend } from './linux/exec-watch.js';
import { makedev, parseMountInfo } from './linux/mountinfo.js';
import { WmiPollBackend } from './win32/exec-control.js';

type FallbackOptions = { decide: ExecDecide; mode: ExecMode; onRecord: (record: ExecWatchRecord) => void };

/**
 * The fallback watchers (docs/application-control.md, "Fallback watcher"): Linux proc connector
 * or /proc polling, Windows WMI polling, macOS ps polling — all behind ProcessWatchBackend,
 * judged by the same FallbackWatcher core and rule set. Each OS's platform object picks its own.
 */
function whyNotFor(firstHumanUid: number) {
  // People's accounts start at 1000 on Linux (login.defs UID_MIN) and at 501 on macOS.
  const self = { pid: process.pid, uid: process.getuid?.() ?? null, firstHumanUid };
  return (p: { pid: number; uid: number | null }) => whyNotActOn(p, self);
}

export function linuxExecFallback(options: FallbackOptions): { watcher: ExecFallback; detail: string } {
  const { backend, detail } = linuxWatchBackend();
  return { watcher: new FallbackWatcher({ backend, builtins: systemBuiltins(), ...options, whyNot: whyNotFor(1000) }), detail };
}

export function win32ExecFallback(options: FallbackOptions, runner: CommandRunner): { watcher: ExecFallback; detail: string } {
  const backend = new WmiPollBackend(runner);
  const detail = 'wmi watcher: Win32_Process polled every second (Get-CimInstance); unapproved programs are ended with Stop-Process after they start';
  return { watcher: new FallbackWatcher({ backend, builtins: existing(windowsBuiltinPaths()), ...options, whyNot: whyNotFor(1000) }), detail };
}

export function darwinExecFallback(
  options: FallbackOptions,
  runner: CommandRunner,
  userOf?: (uid: number) => Promise<string | null>,
): { watcher: ExecFallback; detail: string } {
  const backend = new PsPollBackend(runner, userOf ? { userOf } : {});
  const detail = 'ps-poll watcher: ps polled every 250 ms (Endpoint Security needs an Apple entitlement); unapproved programs are killed after they start';
  return {
    watcher: new FallbackWatcher({
      backend,
      builtins: existing(['/System', '/usr', '/bin', '/sbin', '/Library/Apple', process.execPath, agentDir()]),
      ...options,
      whyNot: whyNotFor(501),
    }),
    detail,
  };
}

/**
 * Linux, beside the pre-exec gate (root): a watcher for the programs no fanotify mark can reach
 * — those whose file system is not in the agent's mount table: a memfd started with fexecve, a
 * tmpfs or FUSE mounted inside a pupil's own user and mount namespace. Everything the agent can
 * see is left to the gate (and to the policy's choice of marks).
 */
export function createGateBackstop(options: FallbackOptions): { watcher: ExecFallback; detail: string } {
  const { backend, detail } = linuxWatchBackend();
  const self = { pid: process.pid, uid: process.getuid?.() ?? null };
  let visible = new Set<bigint>();
  let readAt = 0;
  const visibleDevs = () => {
    // Re-read at most every 200 ms: a file system mounted since is then known at once.
    if (Date.now() - readAt > 200) {
      try {
        visible = new Set(parseMountInfo(readFileSync('/proc/self/mountinfo', 'utf8')).map((m) => makedev(m.major, m.minor)));
        readAt = Date.now();
      } catch {
        // keep the last table
      }
    }
    return visible;
  };
  const watcher = new FallbackWatcher({
    backend,
    builtins: systemBuiltins(),
    ...options,
    whyNot: (p) => whyNotActOn(p, self),
    only: (p) => !visibleDevs().has(p.dev),
  });
  return { watcher, detail: `backstop ${detail.split(':')[0]} for programs on file systems the gate cannot mark (memfd, other namespaces' mounts)` };
}

/** AppLocker's path variables for Windows path rules, from the environment. */
export function windowsPathVars(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const vars: Record<string, string> = {};
  const set = (name: string, value: string | undefined) => value && (vars[name] = value.replace(/\\+$/, ''));
  set('WINDIR', env.SystemRoot ?? env.windir);
  set('SYSTEM32', env.SystemRoot && `${env.SystemRoot}\\System32`);
  set('PROGRAMFILES', env.ProgramFiles);
  set('OSDRIVE', env.SystemDrive);
  return vars;
}

function windowsBuiltinPaths(env: NodeJS.ProcessEnv = process.env): string[] {
  return [env.SystemRoot, env.ProgramFiles, env['ProgramFiles(x86)'], process.execPath, agentDir()].filter((p): p is string => !!p);
}

/** The agent's own installation: the directory holding dist/ (two levels above this file's dir). */
function agentDir(): string {
  return dirname(dirname(dirname(dirname(new URL(import.meta.url).pathname))));
}

function existing(paths: string[]): BuiltinAllow[] {
  const out: BuiltinAllow[] = [];
  for (const path of paths) {
    try {
      out.push({ path, dev: statSync(path, { bigint: true }).dev });
    } catch {
      // absent here
    }
  }
  return out;
}
