/**
 * Failures the console's services and store report to their callers, by kind rather than by
 * transport: the HTTP router is the one place that turns a kind into a status code
 * (http/error-status.ts), so a PostgreSQL adapter, a CLI or a test sees the same errors.
 * `code` is a short stable word for the API's `error` field; the message is safe to show.
 */
export abstract class ConsoleError extends Error {
  abstract readonly kind: 'not-found' | 'conflict' | 'invalid' | 'forbidden' | 'too-large';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** The thing asked for does not exist. */
export class NotFoundError extends ConsoleError {
  readonly kind = 'not-found' as const;
  constructor(message: string, code = 'not-found') {
    super(code, message);
  }
}

/** The request clashes with what is stored (already registered, already revoked, key in use...). */
export class ConflictError extends ConsoleError {
  readonly kind = 'conflict' as const;
}

/** The request itself is malformed or out of range. */
export class InvalidError extends ConsoleError {
  readonly kind = 'invalid' as const;
}

/** The caller is known but the request is refused (a bad or used-up token, a device revoked). */
export class ForbiddenError extends ConsoleError {
  readonly kind = 'forbidden' as const;
}

/** Bigger than a limit the console holds end to end (the message names the limit). */
export class TooLargeError extends ConsoleError {
  readonly kind = 'too-large' as const;
  constructor(message: string) {
    super('too-large', message);
  }
}
