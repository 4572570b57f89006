import type { z } from 'zod';

/** One line for a person: the first few issues with their paths. */
export function summariseZodError(error: z.ZodError): string {
  const first = error.issues.slice(0, 3).map((issue) => {
    const path = issue.path.length ? issue.path.join('.') : '(root)';
    return `${path}: ${issue.message}`;
  });
  const more = error.issues.length > 3 ? ` (+${error.issues.length - 3} more)` : '';
  return first.join('; ') + more;
}
