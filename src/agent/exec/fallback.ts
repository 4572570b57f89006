import type { SignerInfo } from '../../shared/app-rules.js';
import type { ExecMode, ExecWatchRecord, WatchAction, WatcherKind } from '../../shared/exec.js';
import { builtinAllows, type BuiltinAllow, type ExecDecide } from './decision.js';
import { HashCache } from './hash-cache.js';
import { ExecEvaluator, type PendingExec } from './evaluator.js';

/**
 * The fallback watcher's platform-free core. Where no pre-exec gate can run (not root, no
 * fanotify, another OS), an OS backend reports programs that have *started* and this core
 * judges them with the same evaluator and rule set as the gate, then asks the backend to end
 * the unapproved ones. It cannot stop a program from starting: it shortens its life, and says
 * how long it lived.
 */

/** A process as an OS backend saw it: what is running (file identity) and who runs it. */
export interface ObservedProcess extends PendingExec {
  /** Owner of the process; null when the OS did not say. */
  uid: number | null;
  user: string | null;
  /** Changes when the pid is reused (Linux start ticks, Windows creation date, macOS lstart). */
  start: string;
}

export type TerminateOutcome = Exclude<WatchAction, 'none'>;

/** What each OS provides; Linux: proc connector or /proc polling; Windows: WMI; macOS: ps. */
export interface ProcessWatchBackend<P extends ObservedProcess = ObservedProcess> {
  readonly kind: WatcherKind;
  /** Reports every program that starts from now on, and those already running at start. */
  start(onProcess: (process: P) => void): Promise<void>;
  stop(): void;
  /** SHA-256 of the program the process runs; null if it cannot be read as that file. */
  hash(process: P): Promise<string | null>;
  /** Who signed the program, where the OS can say; null = unknown (never guessed). */
  signer?(process: P): Promise<SignerInfo | null>;
  /**
   * Ends the process only if the pid still names the process that was judged (same start,
   * same program), and says how long it had lived (ms since it started the program; null
   * when the OS gives no start time precise enough).
   */
  terminate(process: P): Promise<{ outcome: TerminateOutcome; livedMs: number | null }>;
  /** Whether (dev, ino, size, ctime) may stand for the content later (see EvaluatorOptions). */
  identityTrusted?(process: P): boolean;
  /** Whether the reported path, looked up here, is this very file (see EvaluatorOptions). */
  sameFileHere?(process: P): boolean;
}

/**
 * Who the watcher may terminate. Never itself or PID 1. Not running as root: only its own
 * user's processes (the OS would refuse the rest anyway). As root: only people's accounts
 * (uid >= firstHumanUid, 1000 on Debian per /etc/login.defs UID_MIN) — never root's or a system
 * account's process, so a policy mistake cannot take down services. Returns why not, or null.
 */
export function whyNotActOn(process: { pid: number; uid: number | null }, self: { pid: number; uid: number | null; firstHumanUid?: number }): string | null {
  if (process.pid === self.pid || process.pid <= 1) return 'the agent itself or the init process';
  if (process.uid === null) return self.uid === null ? null : 'unknown owner';
  if (self.uid === null) return null; // the OS decides (Windows: its own access checks)
  if (self.uid !== 0) return process.uid === self.uid ? null : 'another user (the watcher is not root)';
  if (process.uid < (self.firstHumanUid ?? 1000)) return process.uid === 0 ? 'a root process' : 'a system account';
  return null;
}

export interface FallbackWatcherOptions<P extends ObservedProcess> {
  backend: ProcessWatchBackend<P>;
  builtins: readonly BuiltinAllow[];
  decide: ExecDecide;
  mode: ExecMode;
  /** Why a process must be left alone, or null (see whyNotActOn). */
  whyNot: (process: P) => string | null;
  /**
   * Which processes this watcher is for (default all). As a backstop beside the pre-exec gate,
   * only programs the gate cannot see (see exec-fallback.ts).
   */
  only?: (process: P) => boolean;
  onRecord: (record: ExecWatchRecord) => void;
}

export class FallbackWatcher<P extends ObservedProcess = ObservedProcess> {
  private readonly evaluator: ExecEvaluator<P>;
  private running = false;
  private counts = { seen: 0, judged: 0, killed: 0, spared: 0, missed: 0 };
  private readonly signers = new Map<string, SignerInfo | null>();

  constructor(private readonly options: FallbackWatcherOptions<P>) {
    const { backend } = options;
    this.evaluator = new ExecEvaluator<P>(
      {
        builtins: options.builtins,
        hash: (p) => backend.hash(p),
        ...(backend.sameFileHere ? { sameFileHere: (p: P) => backend.sameFileHere!(p) } : {}),
        ...(backend.identityTrusted ? { identityTrusted: (p: P) => backend.identityTrusted!(p) } : {}),
      },
      { decide: options.decide, mode: options.mode },
    );
  }

  get kind(): WatcherKind {
    return this.options.backend.kind;
  }

  async start(): Promise<void> {
    this.running = true;
    await this.options.backend.start((p) => void this.judge(p));
  }

  stop(): void {
    this.running = false;
    this.options.backend.stop();
  }

  setPolicy(policy: { decide: ExecDecide; mode: ExecMode }): void {
    this.options.mode = policy.mode;
    this.evaluator.setPolicy(policy);
  }

  stats(): Record<string, number> {
    return { ...this.counts, cachedHashes: this.evaluator.cache.size };
  }

  /**
   * The OS's signer for the program, read once per file identity (codesign or PowerShell per
   * process start would cost more than the process); built-in programs are not asked about.
   */
  private async signerOf(p: P): Promise<SignerInfo | null> {
    const { backend, builtins } = this.options;
    if (!backend.signer || builtinAllows(builtins, p.path, p.dev)) return null;
    const key = `${HashCache.key(p)}\0${p.path}`;
    if (this.signers.has(key)) return this.signers.get(key)!;
    const signer = await backend.signer(p).catch(() => null);
    if (this.signers.size >= 4096) this.signers.clear();
    this.signers.set(key, signer);
    return signer;
  }

  private async judge(p: P): Promise<void> {
    if (!this.running || (this.options.only && !this.options.only(p))) return;
    this.counts.seen++;
    const whyNot = this.options.whyNot(p);
    // Processes the watcher must not touch are not even read: another user's files may be
    // unreadable, and a system account's programs are the OS's business.
    if (whyNot) {
      this.counts.spared++;
      return;
    }
    this.counts.judged++;
    try {
      const result = await this.signerOf(p);
      const evaluation = await this.evaluator.evaluate(p, result);
      const { verdict, respond, wouldBlock, mode, sha256 } = evaluation;
      if (verdict.reason === 'builtin' || verdict.action === 'allow') return;
      let action: WatchAction = 'none';
      let livedMs: number | null = null;
      if (respond === 'deny') {
        const ended = await this.options.backend.terminate(p);
        action = ended.outcome;
        livedMs = ended.livedMs;
        if (ended.outcome === 'killed') this.counts.killed++;
        else this.counts.missed++;
      }
      this.options.onRecord({
        type: 'exec',
        watcher: this.kind,
        pid: p.pid,
        path: p.path,
        sha256,
        verdict: verdict.action,
        reason: verdict.reason,
        ...(verdict.ruleId ? { ruleId: verdict.ruleId } : {}),
        mode,
        wouldBlock,
        action,
        livedMs: livedMs === null ? null : Math.round(livedMs * 1000) / 1000,
        user: p.user,
        signer: result ? signerText(result) : 'unknown',
        decideMs: Math.round(evaluation.ms * 1000) / 1000,
      });
    } catch (error) {
      this.options.onRecord({ type: 'error', message: `judging pid ${p.pid} (${p.path}): ${(error as Error).message}` });
    }
  }
}

/** One line for events: the publisher (Windows) or team and signing id (macOS). */
export function signerText(signer: SignerInfo): string {
  if (signer.teamId) return signer.signingId ? `${signer.teamId}:${signer.signingId}` : signer.teamId;
  return signer.publisher ?? 'unknown';
}
