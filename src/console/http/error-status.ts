import { ConsoleError } from '../errors.js';
import { HttpError } from './http-error.js';

const STATUS: Record<ConsoleError['kind'], number> = {
  'not-found': 404,
  conflict: 409,
  invalid: 400,
  forbidden: 403,
  'too-large': 413,
};

/** The one mapping from the console's typed errors to HTTP; anything else is not the caller's fault. */
export function toHttpError(error: unknown): HttpError | null {
  if (error instanceof HttpError) return error;
  if (error instanceof ConsoleError) return new HttpError(STATUS[error.kind], error.code, error.message);
  return null;
}
