/**
 * Where the foreground window comes from. Each OS has its own (src/agent/platform/activity.ts);
 * the sampler only starts one while it may collect, and stops it (ending any helper process)
 * the moment it may not.
 */

/** The foreground window as the OS reports it, before the privacy mode and redaction. */
export interface RawWindow {
  app: string;
  title: string | null;
  url: string | null;
  path: string | null;
}

/**
 * How much a source reads. `app`: the app alone; titles are never even read from the OS
 * (app-only mode collects less, not just sends less).
 */
export type WindowDetail = 'app' | 'full';

export interface WindowSource {
  readonly name: string;
  start(): void;
  stop(): void;
  /** The window in front now, or null when none is (an empty desktop). */
  sample(): Promise<RawWindow | null>;
  /** Set when the source cannot work (helper missing, no display); the sampler reports `error`. */
  readonly problem: string | null;
  /** Where the OS announces focus changes (X11), the sampler is called at each one. */
  onChange?(listener: () => void): void;
}
