/** Parses JSON stored by ourselves; a damaged row reads as null (then fails its schema) instead of throwing. */
export function parseOrNull(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
