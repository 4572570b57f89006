import { basename } from 'node:path';
import type { AppExecData, NewAgentEvent } from '../shared/events.js';
import type { ExecAction, ExecGateRecord, ExecMode, ExecWatchRecord, WatcherKind } from '../shared/exec.js';
import type { Logger } from '../shared/node/log.js';
import type { PolicyDocument } from '../shared/policy.js';
import type { AppRule, Applications } from '../shared/app-rules.js';
import type { AppControlStatus } from '../shared/status.js';
import { ruleSetDecider, type ExecDecide } from './exec/decision.js';
import { compileApplications, deviceRules, groupsOf, LINUX_BACKEND, type BackendCapabilities } from './exec/rule-set.js';
import type { LinuxExecGateOptions } from './platform/linux/exec-gate.js';

/** What the host needs from an OS gate (LinuxExecGate; a fake in unit tests). */
export interface ExecGate {
  start(): void;
  setPolicy(policy: { decide: ExecDecide; mode: LinuxExecGateOptions['mode'] }): void;
  stop(): void;
}

/** What the host needs from the fallback watcher (FallbackWatcher; a fake in unit tests). */
export interface ExecFallback {
  readonly kind: WatcherKind;
  start(): Promise<void>;
  setPolicy(policy: { decide: ExecDecide; mode: ExecMode }): void;
  stop(): void;
}
export type CreateFallback = (options: { decide: ExecDecide; mode: ExecMode; onRecord: (record: ExecWatchRecord) => void }) => {
  watcher: ExecFallback;
  detail: string;
};

export interface AppControlOptions {
  deviceId: string;
  /** Mounts to mark when the policy names none (`vigil agent --exec-mark`); none by default. */
  configMarks: readonly string[];
  onTimeout: ExecAction;
  /** Why no pre-exec gate can run here (not root, user mode, another OS), or null. */
  unavailable: string | null;
  createGate: (options: LinuxExecGateOptions) => ExecGate;
  /**
   * Where no pre-exec gate can run: a watcher that kills unapproved programs after they start
   * (src/agent/platform/exec-fallback.ts). Absent: fallback only reports that nothing is enforced.
   */
  createFallback?: CreateFallback;
  /**
   * Linux, beside a running gate: a watcher for programs on file systems no mark can reach
   * (memfd, mounts in pupils' own namespaces); see createGateBackstop.
   */
  createBackstop?: CreateFallback;
  /** Which rules this OS can evaluate (default Linux: no signers); AppLocker path variables on Windows. */
  backend?: BackendCapabilities;
  windowsVars?: Readonly<Record<string, string>>;
  /**
   * An OS's own pre-launch enforcement fed with this device's rules on every policy (Windows:
   * the rules as an AppLocker policy, see platform/win32/exec-control.ts), beside the fallback.
   */
  preLaunch?: (apps: Applications, rules: AppRule[]) => void;
  /** The user a process runs as, for events. */
  userOf: (pid: number) => string | null;
  emit: (event: NewAgentEvent) => void;
  log: Logger;
  /** Identical block events within this window are folded into one (with a count). */
  foldMs?: number;
}

type FoldedType = 'app.blocked' | 'app.would-block' | 'app.killed';

const NO_POLICY: AppControlStatus = { enforcement: 'none', mode: null, detail: 'the policy has no application control', marks: [] };

/**
 * Hosts the pre-exec gate inside the agent service: starts it when a policy with an
 * `applications` section arrives, swaps rules live on every policy change (the gate clears its
 * native allow cache then), re-applies when an exception expires, and turns blocks and
 * would-be blocks into outbox events.
 */
export class AppControl {
  status: AppControlStatus = NO_POLICY;
  private gate: ExecGate | null = null;
  private fallback: { watcher: ExecFallback; detail: string } | null = null;
  private backstop: ExecFallback | null = null;
  private marksKey = '';
  private expiryTimer: NodeJS.Timeout | null = null;
  private readonly folded = new Map<string, { event: Extract<NewAgentEvent, { type: FoldedType }>; timer: NodeJS.Timeout }>();

  constructor(private readonly options: AppControlOptions) {}

  apply(policy: PolicyDocument): void {
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    const { log } = this.options;
    const apps = policy.applications;
    if (!apps) {
      this.stopGate();
      this.stopFallback();
      this.status = NO_POLICY;
      return;
    }
    const groups = groupsOf(policy.groups, this.options.deviceId);
    const { ruleSet, report } = compileApplications(apps, groups, this.options.backend ?? LINUX_BACKEND, undefined, this.options.windowsVars);
    this.options.preLaunch?.(apps, deviceRules(apps, groups));
    if (report.skipped.length) log.info('application rules not evaluated on this device', { count: report.skipped.length, first: report.skipped.slice(0, 5) });
    const marks = [...(apps.linuxMarks ?? this.options.configMarks)];
    const base = { mode: apps.mode, marks };
    const policyForGate = { decide: ruleSetDecider(ruleSet), mode: apps.mode };
    const scheduleExpiry = () => {
      if (report.nextExpiry === null) return;
      // Re-apply when the next exception lapses, so natively cached allows from it are dropped.
      const delay = Math.min(Math.max(report.nextExpiry - Date.now(), 0) + 10, 2 ** 31 - 1);
      this.expiryTimer = setTimeout(() => this.apply(policy), delay);
    };
    if (this.options.unavailable && this.options.createFallback) {
      this.applyFallback(base, policyForGate, this.options.unavailable);
      return scheduleExpiry();
    }
    if (!marks.length) {
      this.stopGate();
      this.status = { ...base, enforcement: 'none', detail: 'no mount is marked (policy applications.linuxMarks or vigil agent --exec-mark)' };
      return;
    }
    if (this.options.unavailable) {
      this.status = { ...base, enforcement: 'fallback', detail: this.options.unavailable };
      return;
    }
    const key = JSON.stringify(marks);
    if (this.gate && key === this.marksKey) this.gate.setPolicy(policyForGate);
    else {
      this.stopGate();
      try {
        const gate = this.options.createGate({
          marks: marks.map((path) => ({ path, kind: 'filesystem' })),
          ...policyForGate,
          onTimeout: this.options.onTimeout,
          onRecord: (record) => this.onRecord(record),
        });
        gate.start();
        [this.gate, this.marksKey] = [gate, key];
      } catch (error) {
        log.warn('the pre-exec gate cannot start', { error: (error as Error).message });
        const why = `the pre-exec gate cannot start: ${(error as Error).message}`;
        if (this.options.createFallback) {
          this.applyFallback(base, policyForGate, why);
          return scheduleExpiry();
        }
        this.status = { ...base, enforcement: 'fallback', detail: why };
        return;
      }
    }
    this.stopFallback();
    this.applyBackstop(policyForGate);
    this.status = { ...base, enforcement: 'pre-exec', detail: null };
    log.info('application control applied', { mode: apps.mode, rules: report.ruleCount, skipped: report.skipped.length, marks });
    scheduleExpiry();
  }

  /** No pre-exec gate here: the watcher kills unapproved programs after they start. */
  private applyFallback(base: { mode: ExecMode; marks: string[] }, policy: { decide: ExecDecide; mode: ExecMode }, why: string): void {
    this.stopGate();
    if (this.fallback) this.fallback.watcher.setPolicy(policy);
    else {
      this.fallback = this.options.createFallback!({ ...policy, onRecord: (record) => this.onWatchRecord(record) });
      this.fallback.watcher.start().catch((error: Error) => this.options.log.warn('the fallback watcher cannot start', { error: error.message }));
    }
    this.status = { ...base, enforcement: 'fallback', detail: `${this.fallback.detail}. No pre-exec gate: ${why}`.slice(0, 512) };
    this.options.log.info('application control applied (fallback watcher)', { mode: policy.mode, watcher: this.fallback.watcher.kind });
  }

  private applyBackstop(policy: { decide: ExecDecide; mode: ExecMode }): void {
    if (!this.options.createBackstop) return;
    if (this.backstop) return this.backstop.setPolicy(policy);
    try {
      const { watcher, detail } = this.options.createBackstop({ ...policy, onRecord: (record) => this.onWatchRecord(record) });
      this.backstop = watcher;
      watcher.start().catch((error: Error) => this.options.log.warn('the backstop watcher cannot start', { error: error.message }));
      this.options.log.info('application control: backstop watcher', { detail });
    } catch (error) {
      this.options.log.warn('the backstop watcher cannot start', { error: (error as Error).message });
    }
  }

  private stopFallback(): void {
    this.fallback?.watcher.stop();
    this.fallback = null;
  }

  stop(): void {
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    for (const { event, timer } of this.folded.values()) {
      clearTimeout(timer);
      if (event.data.repeats) this.options.emit(event);
    }
    this.folded.clear();
    this.stopGate();
    this.stopFallback();
  }

  private stopGate(): void {
    this.backstop?.stop();
    this.backstop = null;
    this.gate?.stop();
    [this.gate, this.marksKey] = [null, ''];
  }

  private onRecord(record: ExecGateRecord): void {
    if (record.type === 'error') return this.options.log.warn('exec gate', { message: record.message });
    if (record.type === 'mark')
      return this.options.log.info('exec gate marked a file system mounted below a mark', { path: record.path, fsType: record.fsType });
    if (record.type !== 'exec' || record.verdict !== 'deny') return;
    // Answered late: the native deadline already let it run or not (the fail-open/closed default).
    if (!record.wouldBlock && !record.answered) return this.options.log.warn('exec decided after the deadline', { path: record.path });
    const signer = 'unknown'; // Linux has no code signatures to read
    this.emitFolded({ type: record.wouldBlock ? 'app.would-block' : 'app.blocked', data: this.execData(record, signer, record.user) });
  }

  private onWatchRecord(record: ExecWatchRecord): void {
    const { log } = this.options;
    if (record.type === 'error') return log.warn('exec watcher', { message: record.message });
    if (record.type !== 'exec' || record.verdict !== 'deny') return;
    if (record.wouldBlock) return this.emitFolded({ type: 'app.would-block', data: this.execData(record, record.signer, record.user) });
    if (record.action !== 'killed' || record.livedMs === null) {
      return log.warn('an unapproved program was not killed', { path: record.path, pid: record.pid, outcome: record.action });
    }
    this.emitFolded({ type: 'app.killed', data: { ...this.execData(record, record.signer, record.user), livedMs: record.livedMs, watcher: record.watcher } });
  }

  private execData(
    record: { pid: number; path: string; sha256: string | null; mode: ExecMode; reason: string; ruleId?: string },
    signer: string,
    user?: string | null,
  ): AppExecData {
    return {
      name: basename(record.path),
      path: record.path,
      sha256: record.sha256,
      signer,
      user: user ?? this.options.userOf(record.pid),
      mode: record.mode,
      reason: record.reason,
      ruleId: record.ruleId ?? null,
      repeats: 0,
    };
  }

  /**
   * A program started in a loop must not flood the outbox: the first event is sent at once, the
   * rest of the window are counted and sent as one event when it ends.
   */
  private emitFolded(event: Extract<NewAgentEvent, { type: FoldedType }>): void {
    const { data } = event;
    const key = `${event.type}\0${data.path}\0${data.sha256}\0${data.user}`;
    const pending = this.folded.get(key);
    if (pending) {
      pending.event.data.repeats++;
      return;
    }
    this.options.emit(event);
    const copy = { ...event, data: { ...data } } as typeof event;
    const timer = setTimeout(() => {
      this.folded.delete(key);
      if (copy.data.repeats) this.options.emit(copy);
    }, this.options.foldMs ?? 10_000);
    timer.unref();
    this.folded.set(key, { event: copy, timer });
  }
}
