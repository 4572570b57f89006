import type { ActivitySpan, ActivityWindow } from '../../shared/activity.js';

/** One observation: what was in front (or idle/locked) at a moment. */
export interface ActivitySample {
  kind: ActivitySpan['kind'];
  window: ActivityWindow | null;
}

/** A span never grows past this: the console sees long stretches without waiting for them to end. */
export const MAX_SPAN_MS = 5 * 60_000;

interface OpenSpan {
  key: string;
  sample: ActivitySample;
  startWall: number;
  startMono: number;
  lastMono: number;
}

/**
 * Merges identical consecutive samples into spans, as ActivityWatch's heartbeats do: a span
 * starts at its first sample and ends when a different sample arrives (or collection stops).
 * Start times are wall-clock; durations run on the monotonic clock so a clock change never
 * makes one negative.
 */
export class SpanBuilder {
  private open: OpenSpan | null = null;

  /**
   * Adds a sample; returns the spans it closed (the previous one, or a full-length one).
   * `beganMsAgo`: the new state began before this sample (idle is noticed only after the idle
   * time has passed, as in ActivityWatch); the previous span then ends, and this one starts,
   * that long ago, but never before the previous span's start.
   */
  add(sample: ActivitySample, wallMs: number, monoMs: number, beganMsAgo = 0): ActivitySpan[] {
    const key = JSON.stringify(sample);
    const closed: ActivitySpan[] = [];
    let startWall = wallMs;
    let startMono = monoMs;
    if (this.open && (this.open.key !== key || monoMs - this.open.startMono >= MAX_SPAN_MS)) {
      if (this.open.key !== key && beganMsAgo > 0) {
        startMono = Math.max(this.open.startMono, monoMs - beganMsAgo);
        startWall = wallMs - (monoMs - startMono);
      }
      const span = this.close(startMono);
      if (span) closed.push(span);
    }
    if (this.open) this.open.lastMono = monoMs;
    else this.open = { key, sample, startWall, startMono, lastMono: monoMs };
    return closed;
  }

  /** Since when the current sample has held (wall ms), or null. */
  get since(): number | null {
    return this.open?.startWall ?? null;
  }

  /**
   * Ends the open span at `monoMs`, or at its last sample when `monoMs` is omitted (used after
   * a stall: the machine slept, and the pupil was not using that window meanwhile).
   */
  close(monoMs?: number): ActivitySpan | null {
    const open = this.open;
    this.open = null;
    if (!open) return null;
    const end = monoMs ?? open.lastMono;
    const durationMs = Math.round(Math.min(Math.max(end - open.startMono, 0), MAX_SPAN_MS));
    if (durationMs === 0) return null;
    return { start: new Date(open.startWall).toISOString(), durationMs, kind: open.sample.kind, window: open.sample.window };
  }
}
