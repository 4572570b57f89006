/**
 * Deterministic JSON used for everything that is signed.
 * Object keys are sorted and undefined members dropped so that the signer and the
 * verifier produce the same bytes whatever order a JSON parser gave them.
 */
export function canonicalJson(value: unknown, memo?: CanonicalMemo): string {
  // A known object costs one lookup: the console asks for 100,000 rules' texts per group set.
  const known = memo && typeof value === 'object' && value !== null ? memo.get(value) : undefined;
  return known ?? serialise(value, new Set(), memo);
}

/**
 * Texts of objects already serialised, for callers that serialise the same large, unchanging
 * objects again and again (the console's policy rules). Only for objects nobody mutates.
 */
export type CanonicalMemo = WeakMap<object, string>;

/**
 * A memo that keeps small parts only (rules, not the list of 100,000): a list's text is quick to
 * join again from its items' texts, and keeping it would double the memory a large policy takes
 * on a device. The console, which serves the same payload again and again, keeps whole texts.
 */
export function smallPartsMemo(maxChars = 64 * 1024): CanonicalMemo {
  const memo = new WeakMap<object, string>();
  const keep = memo.set.bind(memo);
  memo.set = (key, text) => (text.length <= maxChars ? keep(key, text) : memo);
  return memo;
}

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
  let text: string;
  if (Array.isArray(obj)) {
    const items = new Array<string>(obj.length);
    for (let i = 0; i < obj.length; i++) {
      const item: unknown = obj[i];
      items[i] = serialise(item === undefined ? null : item, seen, memo);
    }
    text = `[${items.join(',')}]`;
  } else {
    const record = obj as Record<string, unknown>;
    const members: string[] = [];
    for (const key of Object.keys(record).sort()) {
      const member = record[key];
      if (member !== undefined) members.push(`${JSON.stringify(key)}:${serialise(member, seen, memo)}`);
    }
    text = `{${joinMembers(members)}}`;
  }
  seen.delete(obj);
  memo?.set(obj, text);
  return text;
}

/** Past this, members are concatenated rather than joined (see joinMembers). */
const FLAT_JOIN_CHARS = 64 * 1024;

/**
 * Joins an object's members. A join copies every member into one new string; for an object
 * holding a 10 MB rule list, each level of nesting would copy it again (tens of milliseconds
 * each, and a copy kept per level in a memo). Concatenation links the parts instead, and the
 * text is copied once, by whoever finally reads it (a hash, a signature, a buffer).
 */
function joinMembers(members: string[]): string {
  let chars = 0;
  for (const member of members) chars += member.length;
  if (chars <= FLAT_JOIN_CHARS) return members.join(',');
  let text = members[0] ?? '';
  for (let i = 1; i < members.length; i++) text += `,${members[i]}`;
  return text;
}
