import type { SignerInfo } from '../../shared/app-rules.js';
import type { ExecAction, ExecMode, ExecReason } from '../../shared/exec.js';

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
  /**
   * The mount the file was reached through (Linux STATX_MNT_ID_UNIQUE, never reused until
   * reboot), where known: a pupil-built file system image that reproduces dev, inode, size and
   * ctime after a remount is then still a new identity.
   */
  mountId?: bigint;
}

export interface ExecFileInfo extends ExecFileIdentity {
  path: string;
  pid: number;
  /** null when the file could not be read (the verdict then comes from the default). */
  sha256: string | null;
  /** Who signed it, where the OS can say (not on Linux); null or absent = unknown. */
  signer?: SignerInfo | null;
}

export interface ExecVerdict {
  action: ExecAction;
  reason: ExecReason;
  /** The deciding rule's id, when it has one. */
  ruleId?: string;
  /** The deciding rule was a time-boxed exception. */
  exception?: boolean;
}

/** The pluggable decision: given what is known about a program about to start, allow or deny. */
export type ExecDecide = (file: ExecFileInfo) => ExecVerdict;

/** One rule, ready to match: the action, where it came from, and until when it holds. */
export interface CompiledRule {
  action: ExecAction;
  id?: string;
  exception: boolean;
  /** ms since the epoch; Infinity for regular rules. */
  expiresAt: number;
}
export interface CompiledSignerRule extends CompiledRule {
  signer: Partial<SignerInfo>;
}
export interface CompiledPathRule extends CompiledRule {
  pattern: RegExp;
}

/**
 * The rule set a policy carries, compiled for matching (rule-set.ts builds it from a policy's
 * `applications` section or a rules file). Only rules this backend can evaluate are here.
 */
export interface ExecRuleSet {
  mode: ExecMode;
  defaultAction: ExecAction;
  byHash: ReadonlyMap<string, readonly CompiledRule[]>;
  signers: readonly CompiledSignerRule[];
  paths: readonly CompiledPathRule[];
}

/** Picks within one tier: live exceptions beat regular rules; a block beats an allow. */
function pick(candidates: readonly CompiledRule[], now: number): CompiledRule | null {
  const live = candidates.filter((r) => r.expiresAt > now);
  const exceptions = live.filter((r) => r.exception);
  const pool = exceptions.length ? exceptions : live;
  return pool.find((r) => r.action === 'deny') ?? pool[0] ?? null;
}

function signerMatches(rule: Partial<SignerInfo>, signer: SignerInfo): boolean {
  return (Object.keys(rule) as (keyof SignerInfo)[]).every((key) => rule[key] === undefined || (signer[key] !== null && signer[key] === rule[key]));
}

/**
 * Precedence, most specific first (as in Santa): hash, then signer, then path, then the default.
 * Expiry is checked at decision time, so an exception lapses without a policy change (the host
 * also clears native caches then: see ExecPolicyHost).
 */
export function ruleSetDecider(rules: ExecRuleSet, now: () => number = Date.now): ExecDecide {
  return (file) => {
    const t = now();
    const tiers: [string, readonly CompiledRule[]][] = [
      ['hash', file.sha256 === null ? [] : (rules.byHash.get(file.sha256) ?? [])],
      ['signer', file.signer ? rules.signers.filter((r) => signerMatches(r.signer, file.signer!)) : []],
      ['path', rules.paths.filter((r) => r.pattern.test(file.path))],
    ];
    for (const [tier, candidates] of tiers) {
      const rule = pick(candidates, t);
      if (!rule) continue;
      const reason = `${tier}-${rule.action === 'allow' ? 'allow' : 'block'}` as ExecReason;
      return { action: rule.action, reason, ...(rule.id ? { ruleId: rule.id } : {}), ...(rule.exception ? { exception: true } : {}) };
    }
    return { action: rules.defaultAction, reason: 'default' };
  };
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
  return rules.some((r) => {
    if (r.dev !== dev) return false;
    // Windows paths (C:\...) compare case-insensitively, with either separator.
    const windows = /^[A-Za-z]:[\\/]/.test(r.path);
    const [p, base] = windows ? [path.toLowerCase().replaceAll('/', '\\'), r.path.toLowerCase().replaceAll('/', '\\').replace(/\\+$/, '')] : [path, r.path];
    const sep = windows ? '\\' : '/';
    return p === base || p.startsWith(base === '/' ? '/' : `${base}${sep}`);
  });
}

/** What the OS backend must do: the answer to the kernel, and whether to report a would-be block. */
export function applyMode(mode: ExecMode, verdict: ExecVerdict): { respond: ExecAction; wouldBlock: boolean } {
  if (mode === 'enforce') return { respond: verdict.action, wouldBlock: false };
  return { respond: 'allow', wouldBlock: verdict.action === 'deny' };
}
