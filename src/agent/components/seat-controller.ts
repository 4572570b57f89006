import type { ActivityNow, PowerState } from '../../shared/activity.js';
import { ACTIVITY_OFF, ActivityPolicySchema } from '../../shared/activity-policy.js';
import type { Logger } from '../../shared/node/log.js';
import type { Ownership } from '../../shared/session.js';
import { startActivity, type ActivityHost } from '../activity/host.js';
import { pausedNow, type ActivitySampler } from '../activity/sampler.js';
import type { Component } from '../lifecycle.js';
import type { AgentPlatform } from '../platform/agent-platform.js';
import type { PolicyBus } from '../policy-bus.js';
import type { PolicyStore } from '../policy-store.js';
import type { SessionPlatform, SessionTarget } from '../session/platform.js';
import { SessionRunner } from '../session/runner.js';
import { SeatWatcher, type SeatChange } from '../session/seat.js';
import { measuredIdle, type TrayIdleReports } from '../session/tray-idle.js';
import type { EventSink } from './event-pump.js';

export interface SessionControlConfig {
  /** The one session to control (`--session-*`); ignored when following sign-ins. */
  target?: SessionTarget;
  /** Follow whoever signs in at the seat (`--follow-sessions`) instead of a fixed session. */
  follow?: { utmpFile?: string; intervalMs?: number };
  ownership: Ownership;
  /** Session backends to use instead of the OS's (tests). */
  platform?: SessionPlatform;
}

/** What other parts read of the seat: the session under control and its user, if any. */
export interface SeatView {
  readonly runner: SessionRunner | null;
  readonly target: SessionTarget | null;
  readonly user: string | null;
  readonly activity: ActivitySampler | null;
  readonly ownership: Ownership;
  onUser(listener: (user: string) => void | Promise<void>): () => void;
}

/** No session control on this device (not asked for): nobody is controlled, nobody is announced. */
export const NO_SEAT: SeatView = { runner: null, target: null, user: null, activity: null, ownership: 'school', onUser: () => () => undefined };

/** The session under control now: its runner, its activity reporting, and who is signed in there. */
interface Controlled {
  target: SessionTarget;
  runner: SessionRunner;
  activity: ActivityHost;
  user: string | null;
}

/**
 * Session control at the seat: one session runner (idle lock, logoff, console commands) and its
 * activity reporting, for a fixed session or for whoever signs in (following sign-ins). Each new
 * user at the seat is announced through `onUser` (the AUP gate decides for them).
 */
export class SeatController implements Component, SeatView {
  readonly name = 'seat-controller';
  private controlled: Controlled | null = null;
  private readonly watcher: SeatWatcher | null;
  private readonly userListeners = new Set<(user: string) => void | Promise<void>>();

  constructor(
    private readonly deps: {
      config: SessionControlConfig;
      platform: AgentPlatform;
      store: PolicyStore;
      bus: PolicyBus;
      sink: EventSink;
      trayIdle: TrayIdleReports;
      sendActivity: (now: ActivityNow) => void;
      /** The controlled session or its user changed (sign-in, sign-out): the status is due again. */
      seatChanged?: () => void;
      reportPower: (state: PowerState) => boolean;
      log: Logger;
    },
  ) {
    const follow = deps.config.follow;
    const lister = follow ? deps.platform.sessions.lister({ utmpFile: follow.utmpFile }) : null;
    if (follow && !lister) deps.log.warn('following sign-ins is not available on this platform', { platform: deps.platform.os });
    this.watcher =
      follow && lister
        ? new SeatWatcher({ lister, intervalMs: follow.intervalMs, log: deps.log.child('seat'), onChange: (change) => this.onSeatChange(change) })
        : null;
    if (this.watcher && lister) deps.log.info('following sign-ins', { lister: lister.name });
    deps.bus.subscribe((bundle) => {
      this.controlled?.runner.applyPolicy(bundle.payload.policy.session);
      this.controlled?.activity.sampler.applyPolicy(bundle.payload.policy.activity);
    });
  }

  /** The runner of the session under control, or null. */
  get runner(): SessionRunner | null {
    return this.controlled?.runner ?? null;
  }

  get target(): SessionTarget | null {
    return this.controlled?.target ?? null;
  }

  /** Whether this device measures who is at the seat: it follows sign-ins or controls a session. */
  get controlsSeat(): boolean {
    return this.watcher !== null || this.controlled !== null;
  }

  /** The user of the session under control, when known. */
  get user(): string | null {
    return this.controlled?.user ?? null;
  }

  get activity(): ActivitySampler | null {
    return this.controlled?.activity.sampler ?? null;
  }

  get ownership(): Ownership {
    return this.deps.config.ownership;
  }

  /** A user is now at the seat; returns the unsubscribe function. */
  onUser(listener: (user: string) => void | Promise<void>): () => void {
    this.userListeners.add(listener);
    return () => this.userListeners.delete(listener);
  }

  start(): void {
    if (this.deps.config.follow) return this.watcher?.start();
    const { target = {}, platform } = this.deps.config;
    const controlled = this.control(target, platform);
    if (target.uid === undefined) return;
    void this.deps.platform.users.nameOf(target.uid).then((user) => {
      if (!user) return;
      if (controlled) controlled.user = user;
      this.deps.seatChanged?.();
      return this.announce(user);
    });
  }

  /**
   * Sends the live session state again (after the link reconnects): the sampler's, or, when
   * following sign-ins and nobody is signed in at the seat, "nobody signed in".
   */
  resendActivity(): void {
    if (this.controlled) this.controlled.activity.sampler.resend();
    else if (this.watcher) this.deps.sendActivity(this.nobodySignedIn());
  }

  stop(): void {
    this.controlled?.runner.stop();
    this.controlled?.activity.stop();
    this.watcher?.stop();
  }

  /** Session control and the AUP gate move to whoever is now at the seat. */
  private async onSeatChange(change: SeatChange): Promise<void> {
    const { log } = this.deps;
    for (const s of change.started) log.info('session started', { user: s.user, id: s.id, display: s.display ?? null, local: s.local });
    for (const s of change.ended) log.info('session ended', { user: s.user, id: s.id });
    if (!change.seatChanged) return;
    this.controlled?.runner.retire();
    this.controlled?.activity.stop();
    this.controlled = null;
    const seat = change.seat;
    if (!seat) {
      // Sampling stopped with the session: say so, or the console keeps the last window shown.
      this.deps.sendActivity(this.nobodySignedIn());
      this.deps.seatChanged?.();
      return;
    }
    const controlled = this.control(this.deps.platform.sessions.targetForSeat(seat));
    if (controlled) {
      controlled.user = seat.user;
      // At start-up the held policy reaches the runner through the bus; a later sign-in's runner gets it here.
      const bundle = this.deps.store.bundle;
      if (bundle) controlled.runner.applyPolicy(bundle.payload.policy.session);
    }
    this.deps.seatChanged?.();
    await this.announce(seat.user);
  }

  private async announce(user: string): Promise<void> {
    for (const listener of this.userListeners) await listener(user);
  }

  private nobodySignedIn(): ActivityNow {
    const section = ActivityPolicySchema.safeParse(this.deps.store.bundle?.payload.policy.activity ?? ACTIVITY_OFF);
    return pausedNow(section.success ? section.data.mode : 'off', 'no-session');
  }

  /** Starts session control of one session; null if this platform has none. */
  private control(target: SessionTarget, injected?: SessionPlatform): Controlled | null {
    const { display, xauthority } = target;
    const env: Record<string, string> = {};
    if (display) env.DISPLAY = display;
    if (xauthority) env.XAUTHORITY = xauthority;
    const platform = injected ?? this.deps.platform.sessions.control(target, this.deps.platform.runner(env));
    if (!platform) {
      this.deps.log.warn('session control is not available on this platform', { platform: this.deps.platform.os });
      return null;
    }
    const withTrayIdle = { ...platform, idle: measuredIdle(platform.idle, this.deps.trayIdle, () => target.uid) };
    const runner = new SessionRunner({
      platform: withTrayIdle,
      ownership: this.ownership,
      emit: (e) => this.deps.sink.emit(e),
      log: this.deps.log.child('session'),
    });
    runner.start();
    const activity = startActivity({
      platform: this.deps.platform.activity,
      target,
      ownership: this.ownership,
      policy: this.deps.store.bundle?.payload.policy.activity,
      session: () => runner.observed,
      emit: (e) => this.deps.sink.emit(e),
      sendNow: (now) => {
        // An X error while following sign-ins is often the session ending: look at the seat now
        // rather than showing "error" until the next poll.
        if (now.pausedReason === 'error') void this.watcher?.poll();
        this.deps.sendActivity(now);
      },
      sendPower: (state) => this.deps.reportPower(state),
      log: this.deps.log.child('activity'),
    });
    this.controlled = { target, runner, activity, user: null };
    return this.controlled;
  }
}
