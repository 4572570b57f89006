import type { z } from 'zod';
import { cleanText } from './text.js';

/** Longest single issue in a summary: a hostile key or value must not make the message a megabyte. */
const MAX_ISSUE_CHARS = 300;

/**
 * One line for a person: the first few issues with their paths. Paths and messages can quote
 * the input (unrecognised keys), so each issue is cleaned of control characters and bounded.
 */
export function summariseZodError(error: z.ZodError): string {
  const first = error.issues.slice(0, 3).map((issue) => {
    const path = issue.path.length ? issue.path.join('.') : '(root)';
    return cleanText(`${path}: ${issue.message}`, MAX_ISSUE_CHARS);
  });
  const more = error.issues.length > 3 ? ` (+${error.issues.length - 3} more)` : '';
  return first.join('; ') + more;
}
