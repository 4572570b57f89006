import type { ExecAction, ExecMode, ExecReason, ExecRules } from '../../shared/exec.js';

/**
 * The platform-free decision core of application control. OS backends (fanotify on Linux;
 * later Endpoint Security on macOS, a minifilter/WDAC bridge on Windows) turn a pending exec
 * into an `ExecFileInfo`, ask an `ExecDecide`, and apply the answer according to the mode.
 */

/** Identifies file content cheaply: if any of these change, the hash is taken again. */
export interface ExecFileIdentity {
  dev: bigint;
  ino: bigint;
  size: number;
  ctimeSec: number;
  ctimeNsec: number;
}

export interface ExecFileInfo extends ExecFileIdentity {
  path: string;
  pid: number;
  /** null when the file could not be read (the verdict then comes from the default). */
  sha256: string | null;
}

export interface ExecVerdict {
  action: ExecAction;
  reason: ExecReason;
}

/** The pluggable decision: given what is known about a program about to start, allow or deny. */
export type ExecDecide = (file: ExecFileInfo) => ExecVerdict;

/**
 * The rule set a policy carries. Named as the interface that grows: signer, path-pattern and
 * imported AppLocker/Santa rules become further members, each consulted by `ruleSetDecider`.
 */
export interface ExecRuleSet {
  mode: ExecMode;
  defaultAction: ExecAction;
  allowSha256: ReadonlySet<string>;
}

export function ruleSetFromRules(rules: ExecRules): ExecRuleSet {
  return { mode: rules.mode, defaultAction: rules.defaultAction, allowSha256: new Set(rules.allowSha256) };
}

export function ruleSetDecider(rules: ExecRuleSet): ExecDecide {
  return (file) =>
    file.sha256 !== null && rules.allowSha256.has(file.sha256) ? { action: 'allow', reason: 'hash-allow' } : { action: rules.defaultAction, reason: 'default' };
}

/**
 * A directory (or single file) whose programs always run, whatever the policy says, so that a
 * policy mistake cannot stop the OS or the agent itself. The device number is part of the rule:
 * a path that merely looks like /usr/... on another file system (a container's or a mounted
 * stick's) does not qualify.
 */
export interface BuiltinAllow {
  path: string;
  dev: bigint;
}

export function builtinAllows(rules: readonly BuiltinAllow[], path: string, dev: bigint): boolean {
  return rules.some((r) => r.dev === dev && (path === r.path || path.startsWith(r.path === '/' ? '/' : `${r.path}/`)));
}

/** What the OS backend must do: the answer to the kernel, and whether to report a would-be block. */
export function applyMode(mode: ExecMode, verdict: ExecVerdict): { respond: ExecAction; wouldBlock: boolean } {
  if (mode === 'enforce') return { respond: verdict.action, wouldBlock: false };
  return { respond: 'allow', wouldBlock: verdict.action === 'deny' };
}
