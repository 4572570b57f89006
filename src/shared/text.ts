import { z } from 'zod';

/**
 * Text that arrives from a device or a user. Control characters (except tab) are replaced and
 * the length bounded *before* validation so that hostile input is stored in a harmless form
 * rather than rejected outright when it is otherwise meaningful (a window title, a hostname).
 */
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029]/g;

export function cleanText(value: string, maxLength: number): string {
  const cleaned = value.replace(CONTROL_CHARS, '\uFFFD').toWellFormed();
  // Re-checked after the cut, which may fall between the halves of a surrogate pair.
  return cleaned.length > maxLength ? `${cleaned.slice(0, maxLength - 1).toWellFormed()}…` : cleaned;
}

export function boundedText(maxLength: number) {
  return z.string().transform((value) => cleanText(value, maxLength));
}

/** Identifiers we generate ourselves: strict, never cleaned. */
export const UuidSchema = z.uuid();
export const IsoDateTime = z.iso.datetime({ offset: true });
