import { ActivityWindowSchema, type ActivityWindow } from '../../shared/activity.js';
import { redact, type ActivityPolicy } from '../../shared/activity-policy.js';
import type { RawWindow } from './window-source.js';

/**
 * What may leave the device about a window under the policy: app-only drops title, URL and
 * path; full keeps them with the redaction patterns applied. Everything passes through the
 * wire schema, which bounds lengths and replaces control characters and broken UTF-16.
 */
export function reportedWindow(raw: RawWindow, policy: ActivityPolicy, patterns: readonly RegExp[]): ActivityWindow | null {
  if (policy.mode === 'off') return null;
  const full = policy.mode === 'full';
  // Cut before any pattern runs (patterns never see more than 2 KB); one character over the
  // limit is kept so the schema marks the cut with "…".
  const scrub = (text: string | null, limit: number) => (text === null ? null : redact(text.slice(0, limit + 1).toWellFormed(), patterns));
  return ActivityWindowSchema.parse({
    app: raw.app.trim() || 'unknown',
    title: full ? scrub(raw.title, 1024) : null,
    url: full ? scrub(raw.url, 2048) : null,
    path: full ? (raw.path?.slice(0, 4096) ?? null) : null,
  });
}
