import { applyMode, builtinAllows, type BuiltinAllow, type ExecDecide, type ExecFileIdentity, type ExecVerdict } from './decision.js';
import type { ExecAction, ExecMode } from '../../shared/exec.js';
import type { SignerInfo } from '../../shared/app-rules.js';
import { HashCache } from './hash-cache.js';

/** A pending exec as the OS backend sees it, before anything is hashed. */
export interface PendingExec extends ExecFileIdentity {
  path: string;
  pid: number;
}

export interface Evaluation {
  verdict: ExecVerdict;
  respond: ExecAction;
  wouldBlock: boolean;
  mode: ExecMode;
  sha256: string | null;
  cached: boolean;
  /** Whether the file identity may stand for this content later (see identityTrusted). */
  identityTrusted: boolean;
  ms: number;
}

export interface EvaluatorOptions<E extends PendingExec> {
  builtins: readonly BuiltinAllow[];
  /** Reads the pending file and returns its SHA-256, or null if it cannot be read as that file. */
  hash: (exec: E) => Promise<string | null>;
  /**
   * Whether the reported path, looked up from the gate's own mount namespace, is this very file.
   * The kernel reports paths as the executing process sees them, so a pupil's private bind mount
   * over a built-in directory must not make their program look built in.
   */
  sameFileHere?: (exec: E) => boolean;
  /**
   * Whether (dev, ino, size, ctime) can stand for the file's content later. Not on file systems
   * whose ctime a user can set (FAT, exFAT, FUSE...), nor for a file changed in the last moments
   * (a same-tick rewrite keeps its ctime): such files are hashed every time and never cached.
   */
  identityTrusted?: (exec: E) => boolean;
  cacheSize?: number;
}

/**
 * Order of checks: built-in always-allow rules (no hashing), then the hash (cached by file
 * identity; computed once per identity even when several execs of a new file arrive together),
 * then the policy's decide callback, then the mode (monitor answers allow and reports).
 */
export class ExecEvaluator<E extends PendingExec = PendingExec> {
  readonly cache: HashCache;
  private readonly hashing = new Map<string, Promise<string | null>>();
  private decide: ExecDecide;
  private mode: ExecMode;

  constructor(
    private readonly options: EvaluatorOptions<E>,
    policy: { decide: ExecDecide; mode: ExecMode },
  ) {
    this.cache = new HashCache(options.cacheSize);
    this.decide = policy.decide;
    this.mode = policy.mode;
  }

  /** Swaps the policy; cached hashes stay valid because they describe files, not decisions. */
  setPolicy(policy: { decide: ExecDecide; mode: ExecMode }): void {
    this.decide = policy.decide;
    this.mode = policy.mode;
  }

  /** `signer`: what the OS reported about the program's signature, where it can (not Linux). */
  async evaluate(exec: E, signer?: SignerInfo | null): Promise<Evaluation> {
    const started = performance.now();
    const mode = this.mode;
    if (builtinAllows(this.options.builtins, exec.path, exec.dev) && (this.options.sameFileHere?.(exec) ?? true)) {
      const verdict: ExecVerdict = { action: 'allow', reason: 'builtin' };
      return { verdict, ...applyMode(mode, verdict), mode, sha256: null, cached: true, identityTrusted: true, ms: performance.now() - started };
    }
    const identityTrusted = this.options.identityTrusted?.(exec) ?? true;
    let sha256 = identityTrusted ? (this.cache.get(exec) ?? null) : null;
    const cached = sha256 !== null;
    if (!cached) sha256 = identityTrusted ? await this.hashOnce(exec) : await this.options.hash(exec).catch(() => null);
    const { path, pid, dev, ino, size, ctimeSec, ctimeNsec } = exec;
    const verdict = this.decide({ path, pid, dev, ino, size, ctimeSec, ctimeNsec, sha256, ...(signer ? { signer } : {}) });
    return { verdict, ...applyMode(mode, verdict), mode, sha256, cached, identityTrusted, ms: performance.now() - started };
  }

  private hashOnce(exec: E): Promise<string | null> {
    const key = HashCache.key(exec);
    let pending = this.hashing.get(key);
    if (!pending) {
      pending = this.options
        .hash(exec)
        .catch(() => null)
        .then((sha256) => {
          if (sha256) this.cache.set(exec, sha256);
          return sha256;
        })
        .finally(() => this.hashing.delete(key));
      this.hashing.set(key, pending);
    }
    return pending;
  }
}
