import type { ActivityNow, ActivityPauseReason, ActivityPrivacyMode, ActivitySpan } from '../../shared/activity.js';
import { ACTIVITY_OFF, ActivityPolicySchema, compileRedactions, type ActivityPolicy } from '../../shared/activity-policy.js';
import type { NewAgentEvent } from '../../shared/events.js';
import type { Logger } from '../../shared/node/log.js';
import type { Ownership } from '../../shared/session.js';
import { summariseZodError } from '../../shared/zod-errors.js';
import { systemClock, type SessionClock } from '../session/clock.js';
import { STALL_MS, type SessionObservation } from '../session/core.js';
import type { DisplayServer } from './display-server.js';
import { pauseReason } from './gate.js';
import type { SchoolNetworkCheck } from './network.js';
import { reportedWindow } from './privacy.js';
import { SpanBuilder, type ActivitySample } from './spans.js';
import type { WindowDetail, WindowSource } from './window-source.js';

/** The wire schema's limit on spans per event. */
const SPANS_PER_EVENT = 200;
/** After a source fails, wait this long before starting a new one. */
const SOURCE_RETRY_MS = 30_000;
/**
 * Live frames are coalesced to at most one per this interval. Half a second keeps the screen to
 * grid time under 1.5 s (the feed adds 200 ms) when focus moves again just after a frame.
 */
const NOW_MIN_INTERVAL_MS = 500;

/** The live state while nothing is collected, and why. */
export function pausedNow(mode: ActivityPrivacyMode, reason: ActivityPauseReason): ActivityNow {
  return { collecting: false, mode, pausedReason: reason, window: null, since: null, idleSeconds: null, locked: null };
}

export interface ActivitySamplerOptions {
  ownership: Ownership;
  /**
   * The `activity` section of the policy held at start (absent: none held, nothing collected).
   * Given here so the first state published is the policy's, not "off" until it is applied.
   */
  policy?: unknown;
  displayServer: DisplayServer;
  /** Creates the OS window source; called only when collecting starts (again when the mode changes). */
  createSource: (detail: WindowDetail) => WindowSource;
  /** The session runner's latest idle time and lock state (the idle detector is not duplicated). */
  session: () => SessionObservation | null;
  network: Pick<SchoolNetworkCheck, 'status'>;
  /** Closed spans, batched, go to the durable outbox. */
  emit: (event: NewAgentEvent) => void;
  /** The live state, on change, at most twice a second. */
  sendNow: (now: ActivityNow) => void;
  log: Logger;
  clock?: SessionClock;
  tickMs?: number;
}

/**
 * Samples the foreground window about once a second while the policy allows, merges samples
 * into spans, sends them in batches, and keeps the console's live view current. When the gate
 * says no (mode off, BYOD outside school hours or off the school network, Wayland) the window
 * source is stopped and nothing is read at all.
 */
export class ActivitySampler {
  private policy: ActivityPolicy = ACTIVITY_OFF;
  private patterns: RegExp[] = [];
  private source: WindowSource | null = null;
  private sourceDetail: WindowDetail | null = null;
  private sourceRetryAtMono = 0;
  private readonly spans = new SpanBuilder();
  private pending: ActivitySpan[] = [];
  private lastFlushMono: number;
  private lastTickMono: number | null = null;
  private timer: NodeJS.Timeout | null = null;
  private busy = false;
  /** A tick was asked for while one ran (a policy, a focus change): run another after it. */
  private again = false;
  private publishTimer: NodeJS.Timeout | null = null;
  private nowState: ActivityNow;
  private sentKey: string | null = null;
  private sentAtMono = -Infinity;
  /** A first sample has set the state; before it, the state is a placeholder not worth sending. */
  private sampled = false;
  private readonly clock: SessionClock;

  constructor(private readonly options: ActivitySamplerOptions) {
    this.clock = options.clock ?? systemClock;
    this.lastFlushMono = this.clock.monoNow();
    if (options.policy !== undefined) this.setPolicy(options.policy);
    this.nowState = this.paused('policy-off');
  }

  /** What is being collected right now (also what the tray shows the pupil). */
  get now(): ActivityNow {
    return this.nowState;
  }

  get currentPolicy(): ActivityPolicy {
    return this.policy;
  }

  /** Whether a window source (and so any helper process) is running. */
  get sourceRunning(): boolean {
    return this.source !== null;
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.options.tickMs ?? 1000);
    void this.tick();
  }

  /** Stops sampling; the open span is closed and everything pending is queued. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.publishTimer) clearTimeout(this.publishTimer);
    this.timer = this.publishTimer = null;
    this.stopCollecting();
  }

  /**
   * The `activity` section of a newly applied policy. Policies are validated when published,
   * so a section that does not parse here means nothing is collected (the privacy-safe side).
   */
  applyPolicy(section: unknown): void {
    this.setPolicy(section);
    // Spans under the old rules end here: nothing recorded under one mode is sent under another.
    this.closeSpan();
    this.flush();
    void this.tick();
  }

  private setPolicy(section: unknown): void {
    const parsed = section === undefined ? { success: true as const, data: ACTIVITY_OFF } : ActivityPolicySchema.safeParse(section);
    if (!parsed.success) {
      this.options.log.warn('activity policy unreadable; collecting nothing', { detail: summariseZodError(parsed.error) });
    }
    this.policy = parsed.success ? parsed.data : ACTIVITY_OFF;
    this.patterns = compileRedactions(this.policy.redactTitles);
  }

  /** Re-sends the live state (after the link reconnects). */
  resend(): void {
    // Connected before the first sample ended (the window source may still be starting): the
    // placeholder state would read "off (policy)" on the grid; the first sample publishes itself.
    if (!this.sampled) return;
    this.sentKey = null;
    this.publish(true);
  }

  /** One sample. Exposed for tests that drive the clock themselves. */
  async tick(): Promise<void> {
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    try {
      do {
        this.again = false;
        await this.step();
        this.sampled = true;
      } while (this.again && this.timer);
    } catch (error) {
      this.options.log.error('activity sample failed', { error });
    } finally {
      this.busy = false;
    }
  }

  private async step(): Promise<void> {
    const mono = this.clock.monoNow();
    const wall = this.clock.wallNow();
    // A long gap means the machine slept (or we were stopped): the open span ends where we left it.
    if (this.lastTickMono !== null && mono - this.lastTickMono > STALL_MS) this.closeSpan(null);
    this.lastTickMono = mono;

    const reason = pauseReason({
      policy: this.policy,
      ownership: this.options.ownership,
      localMs: this.clock.localMs(wall),
      displayServer: this.options.displayServer,
      onSchoolNetwork: () => (this.policy.byod?.schoolNetwork ? this.options.network.status(this.policy.byod.schoolNetwork) : null),
    });
    if (reason) {
      this.stopCollecting();
      this.nowState = this.paused(reason);
      return this.publish();
    }

    const source = this.ensureSource(mono);
    if (!source) {
      this.closeSpan();
      this.nowState = this.paused('error');
      return this.publish();
    }
    const raw = await source.sample();
    if (!this.source) return; // stopped while we waited
    if (source.problem) {
      // A source that failed says nothing about the screen: not "no window", an error.
      this.closeSpan();
      this.nowState = this.paused('error');
      return this.publish();
    }
    const observed = this.options.session();
    const idleMs = observed?.idleMs ?? null;
    const idle = idleMs !== null && idleMs >= this.policy.idleAfterSeconds * 1000;
    const window = raw ? reportedWindow(raw, this.policy, this.patterns) : null;
    const sample: ActivitySample | null = observed?.locked
      ? { kind: 'locked', window: null }
      : idle
        ? { kind: 'idle', window: null }
        : window
          ? { kind: 'window', window }
          : null; // nothing in front: a gap, not a span
    // Idle is noticed idleAfterSeconds late: the idle span starts at the last input.
    if (sample) this.queue(this.spans.add(sample, wall, mono, sample.kind === 'idle' ? (idleMs ?? 0) : 0));
    else this.closeSpan();
    if (this.pending.length && (this.pending.length >= SPANS_PER_EVENT || mono - this.lastFlushMono >= this.policy.batchSeconds * 1000)) this.flush();

    const since = this.spans.since;
    this.nowState = {
      collecting: true,
      mode: this.policy.mode,
      pausedReason: null,
      window: sample?.kind === 'window' ? sample.window : null,
      since: since === null ? null : new Date(since).toISOString(),
      idleSeconds: idleMs === null ? null : Math.floor(idleMs / 1000),
      locked: observed ? observed.locked : null,
      idle: sample?.kind === 'idle',
    };
    this.publish();
  }

  private ensureSource(mono: number): WindowSource | null {
    if (this.source?.problem) {
      this.options.log.warn('window source failed', { source: this.source.name, problem: this.source.problem });
      this.source.stop();
      this.source = null;
      this.sourceRetryAtMono = mono + SOURCE_RETRY_MS;
    }
    const detail: WindowDetail = this.policy.mode === 'full' ? 'full' : 'app';
    if (this.source && this.sourceDetail !== detail) {
      // A source set up to read titles is not kept for app-only, nor the other way round.
      this.source.stop();
      this.source = null;
    }
    if (!this.source && mono >= this.sourceRetryAtMono) {
      this.sourceDetail = detail;
      this.source = this.options.createSource(detail);
      // A focus change is sampled when it happens, not at the next tick.
      this.source.onChange?.(() => void this.tick());
      this.source.start();
      this.options.log.info('activity collection started', { source: this.source.name, mode: this.policy.mode });
    }
    return this.source;
  }

  private stopCollecting(): void {
    this.closeSpan();
    this.flush();
    if (this.source) {
      this.source.stop();
      this.source = null;
      this.options.log.info('activity collection stopped');
    }
  }

  /** `at` null: end the span at its last sample (after a stall). */
  private closeSpan(at: number | null = this.clock.monoNow()): void {
    const span = this.spans.close(at ?? undefined);
    if (span) this.queue([span]);
  }

  private queue(spans: ActivitySpan[]): void {
    this.pending.push(...spans);
    while (this.pending.length >= SPANS_PER_EVENT) this.emitSpans(this.pending.splice(0, SPANS_PER_EVENT));
  }

  private flush(): void {
    this.lastFlushMono = this.clock.monoNow();
    if (this.pending.length) this.emitSpans(this.pending.splice(0));
  }

  private emitSpans(spans: ActivitySpan[]): void {
    this.options.emit({ type: 'activity.spans', data: { spans } });
  }

  private paused(reason: ActivityPauseReason): ActivityNow {
    return pausedNow(this.policy.mode, reason);
  }

  /**
   * Sends the live state when it changed. Idle seconds tick every second while idle; they are
   * sent with each change but do not count as one (the console can count on from them).
   */
  private publish(force = false): void {
    const { idleSeconds: _idle, ...rest } = this.nowState;
    const key = JSON.stringify(rest);
    const mono = this.clock.monoNow();
    if (!force && key === this.sentKey) return;
    if (!force && mono - this.sentAtMono < NOW_MIN_INTERVAL_MS) {
      // Coalesced, not postponed to the next sample: the latest state goes out when the interval ends.
      this.publishTimer ??= setTimeout(
        () => {
          this.publishTimer = null;
          if (this.timer) this.publish();
        },
        NOW_MIN_INTERVAL_MS - (mono - this.sentAtMono),
      );
      this.publishTimer.unref();
      return;
    }
    if (this.sentKey === null || this.nowState.pausedReason !== (JSON.parse(this.sentKey) as ActivityNow).pausedReason) {
      this.options.log.info('activity state', { collecting: this.nowState.collecting, pausedReason: this.nowState.pausedReason, mode: this.nowState.mode });
    }
    this.sentKey = key;
    this.sentAtMono = mono;
    this.options.sendNow(this.nowState);
  }
}
