/**
 * Node's fetch reports every network failure as "fetch failed" and hides the reason in
 * `cause`; operators need the reason (refused, DNS, self-signed certificate...).
 */
export function describeFetchError(error: unknown): string {
  const err = error as Error & { cause?: { code?: string; message?: string } };
  const cause = err.cause;
  if (!cause) return err.message;
  const detail = [cause.code, cause.message].filter(Boolean).join(': ');
  return detail ? `${err.message} (${detail})` : err.message;
}
