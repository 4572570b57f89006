/**
 * Deterministic JSON used for everything that is signed.
 * Object keys are sorted and undefined members dropped so that the signer and the
 * verifier produce the same bytes whatever order a JSON parser gave them.
 */
export function canonicalJson(value: unknown, memo?: CanonicalMemo): string {
  return serialise(value, new Set(), memo);
}

/**
 * Texts of objects already serialised, for callers that serialise the same large, unchanging
 * objects again and again (the console's policy rules). Only for objects nobody mutates.
 */
export type CanonicalMemo = WeakMap<object, string>;

function serialise(value: unknown, seen: Set<object>, memo?: CanonicalMemo): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError('canonicalJson: non-finite number');
      return JSON.stringify(value);
    case 'object':
      break;
    default:
      throw new TypeError(`canonicalJson: unsupported type ${typeof value}`);
  }
  const obj = value as object;
  const known = memo?.get(obj);
  if (known !== undefined) return known;
  if (seen.has(obj)) throw new TypeError('canonicalJson: cyclic structure');
  seen.add(obj);
  try {
    if (Array.isArray(obj)) {
      return remember(obj, `[${obj.map((item) => serialise(item === undefined ? null : item, seen, memo)).join(',')}]`, memo);
    }
    const record = obj as Record<string, unknown>;
    const members = Object.keys(record)
      .filter((key) => record[key] !== undefined)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${serialise(record[key], seen, memo)}`);
    return remember(obj, `{${members.join(',')}}`, memo);
  } finally {
    seen.delete(obj);
  }
}

function remember(obj: object, text: string, memo: CanonicalMemo | undefined): string {
  memo?.set(obj, text);
  return text;
}
