import fc from 'fast-check';

/**
 * Generators shared by every fuzz target: hostile values, structural mutations of a valid
 * document (so most cases are "nearly right", which is where parsers break), and text/byte
 * mutations of its serialised form (truncated UTF-8 and UTF-16, NUL bytes, stray quotes).
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A value nested `depth` arrays or objects deep (built in a loop: the generator must not overflow). */
export function nested(depth: number, kind: 'array' | 'object', leaf: Json = 0): Json {
  let value: Json = leaf;
  for (let i = 0; i < depth; i++) value = kind === 'array' ? [value] : { a: value };
  return value;
}

/** Same, as JSON text: deep enough that a recursive reader or writer would overflow its stack. */
export function nestedText(depth: number, open = '[', close = ']'): string {
  return `${open.repeat(depth)}${close.repeat(depth)}`;
}

/** An object whose own (not inherited) key is `__proto__`, as JSON.parse would make it. */
export function withOwnKey(target: Record<string, Json>, key: string, value: Json): Record<string, Json> {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  return target;
}

const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));
const controlChar = fc.integer({ min: 0, max: 0x1f }).map((c) => String.fromCharCode(c));

/** Strings a hostile peer would try: control characters, lone surrogates, bidi overrides, huge. */
export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  {
    weight: 2,
    arbitrary: fc.string({
      unit: fc.oneof(loneSurrogate, controlChar, fc.constantFrom('\u0000', '\u2028', '\u202e', '\ufffd', '"', '\\', '<', '&', ',', '\n', '\r')),
      maxLength: 20,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '__proto__',
      'constructor',
      'prototype',
      'toString',
      'hasOwnProperty',
      '',
      ' ',
      '\u0000',
      '1970-01-01T00:00:00Z',
      '9999-12-31T23:59:59Z',
      'a'.repeat(64),
      '0'.repeat(64),
    ),
  },
  { weight: 1, arbitrary: fc.integer({ min: 100, max: 600 }).chain((n) => fc.constantFrom('x', '\u00e9', '\ud83d\ude00', '\u0000').map((c) => c.repeat(n))) },
);

const hostileNumber: fc.Arbitrary<number> = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(0, -0, -1, 1, 0.5, 2 ** 31, 2 ** 31 + 1, 2 ** 53, 2 ** 53 + 2, -(2 ** 53), Number.MAX_VALUE, Number.MIN_VALUE, 1e308),
);

/**
 * Values that cost the parser something (long strings, deep nesting, long arrays). Kept rare
 * and mostly below the transport limits, so the fuzz run spends its time on many cases rather
 * than on a few huge ones; the targets add a few at the limits themselves.
 */
export const heavyValue: fc.Arbitrary<Json> = fc.oneof(
  fc.integer({ min: 200, max: 70_000 }).chain((n) => fc.constantFrom('x', '\u00e9', '\ud83d\ude00', '\u0000').map((c) => c.repeat(n))),
  fc.tuple(fc.integer({ min: 10, max: 1500 }), fc.constantFrom<'array' | 'object'>('array', 'object')).map(([d, k]) => nested(d, k)),
  fc.integer({ min: 100, max: 5_000 }).map((n) => Array.from({ length: n }, (_, i) => i) as Json),
);

/** Any JSON value a hostile sender could put anywhere. */
export const hostileValue: fc.Arbitrary<Json> = fc.oneof(
  { weight: 6, arbitrary: hostileString },
  { weight: 4, arbitrary: hostileNumber },
  { weight: 2, arbitrary: fc.constantFrom<Json>(null, true, false, [], {}, [null], { __proto__: null } as unknown as Json) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json> },
  { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 2, max: 40 }), fc.constantFrom<'array' | 'object'>('array', 'object')).map(([d, k]) => nested(d, k)) },
  {
    weight: 1,
    arbitrary: fc.constantFrom<Json>(withOwnKey({}, '__proto__', { isAdmin: true }), withOwnKey({}, 'constructor', { prototype: { polluted: true } })),
  },
  { weight: 1, arbitrary: heavyValue },
);

type Path = (string | number)[];

function paths(value: Json, prefix: Path = [], out: Path[] = [], depth = 0): Path[] {
  out.push(prefix);
  if (depth > 12 || value === null || typeof value !== 'object') return out;
  if (Array.isArray(value)) value.slice(0, 50).forEach((item, i) => paths(item, [...prefix, i], out, depth + 1));
  else for (const key of Object.keys(value).slice(0, 50)) paths(value[key]!, [...prefix, key], out, depth + 1);
  return out;
}

function clone(value: Json): Json {
  return value === null || typeof value !== 'object' ? value : (JSON.parse(JSON.stringify(value)) as Json);
}

type Mutation = { at: number; op: 'replace' | 'delete' | 'add' | 'wrap' | 'repeat' | 'retype'; value: Json; key: string };

const mutation: fc.Arbitrary<Mutation> = fc.record({
  at: fc.nat(),
  op: fc.constantFrom('replace', 'replace', 'replace', 'delete', 'add', 'wrap', 'repeat', 'retype'),
  value: hostileValue,
  key: fc.oneof(fc.constantFrom('__proto__', 'constructor', 'extra', 'v', 'type', 'id', 'payload', 'signature'), fc.string({ maxLength: 12 })),
});

/** Applies one mutation at a path picked from the value (the root included). */
function mutate(root: Json, original: Mutation): Json {
  // Generated values may be shared constants: insert copies, so no case changes another (or makes a cycle).
  const m = { ...original, value: clone(original.value) };
  const all = paths(root);
  const path = all[m.at % all.length]!;
  const parentPath = path.slice(0, -1);
  const last = path[path.length - 1];
  let parent: Json = root;
  for (const step of parentPath) parent = (parent as Record<string | number, Json>)[step]!;
  const current: Json = last === undefined ? root : (parent as Record<string | number, Json>)[last]!;
  let next: Json | undefined;
  switch (m.op) {
    case 'replace':
      next = m.value;
      break;
    case 'delete':
      next = undefined;
      break;
    case 'add':
      if (current !== null && typeof current === 'object' && !Array.isArray(current)) withOwnKey(current, m.key, m.value);
      else if (Array.isArray(current)) current.push(m.value);
      return root;
    case 'wrap':
      next = [current];
      break;
    case 'repeat':
      // Bounded, so a repeated long value does not make a case of hundreds of megabytes.
      next = Array.isArray(current) ? Array.from({ length: 300 }, () => current[0] ?? null) : String(JSON.stringify(current)).slice(0, 2000).repeat(20);
      break;
    case 'retype':
      next =
        typeof current === 'string'
          ? Number(current) || current.length
          : typeof current === 'number'
            ? String(current)
            : current === null
              ? 0
              : JSON.stringify(current);
      break;
  }
  if (last === undefined) return next === undefined ? null : next;
  if (next === undefined) {
    if (Array.isArray(parent)) parent.splice(last as number, 1);
    else delete (parent as Record<string, Json>)[last];
  } else if (Array.isArray(parent)) parent[last as number] = next;
  else withOwnKey(parent as Record<string, Json>, String(last), next);
  return root;
}

/** A valid document with one to three structural mutations. */
export function mutated(seed: fc.Arbitrary<Json>): fc.Arbitrary<Json> {
  return fc.tuple(seed, fc.array(mutation, { minLength: 1, maxLength: 3 })).map(([value, ms]) => ms.reduce((v, m) => mutate(v, m), clone(value)));
}

/** Valid documents, mutated ones, and values of no expected shape at all. */
export function shaped(seed: fc.Arbitrary<Json>): fc.Arbitrary<Json> {
  return fc.oneof({ weight: 3, arbitrary: seed }, { weight: 6, arbitrary: mutated(seed) }, { weight: 1, arbitrary: hostileValue });
}

type TextEdit = { at: number; op: 'truncate' | 'insert' | 'delete' | 'nest' | 'dup'; text: string };
const textEdit: fc.Arbitrary<TextEdit> = fc.record({
  at: fc.nat(),
  op: fc.oneof(
    { weight: 20, arbitrary: fc.constantFrom<TextEdit['op']>('truncate', 'insert', 'insert', 'delete', 'dup') },
    { weight: 1, arbitrary: fc.constant<TextEdit['op']>('nest') },
  ),
  text: fc.oneof(
    fc.constantFrom('\u0000', '"', '\\', '{', '}', '[', ']', ',', ':', '\n', '\r\n', '\ud800', '\udc00', '\ufeff', '<', '>', '&', "'", '&#0;', '<!--', ']]>'),
    fc.string({ maxLength: 8 }),
  ),
});

function editText(text: string, e: TextEdit): string {
  const at = text.length ? e.at % (text.length + 1) : 0;
  switch (e.op) {
    case 'truncate':
      return text.slice(0, at);
    case 'insert':
      return text.slice(0, at) + e.text + text.slice(at);
    case 'delete':
      return text.slice(0, at) + text.slice(at + 1 + (e.text.length % 4));
    case 'nest':
      return text.slice(0, at) + nestedText(100 + e.text.length * 2_000) + text.slice(at);
    case 'dup':
      return text.slice(0, at) + text.slice(at, at + 200).repeat(20) + text.slice(at);
  }
}

/**
 * Longest generated text: twice the console's HTTP body limit and four times the frame limit.
 * Repeats of repeats can otherwise build tens of megabytes, which only measures JSON.parse on
 * input every transport refuses before parsing (a 22 MB case took 5 s of CPU in JSON.parse).
 */
export const MAX_TEXT_CHARS = 1024 * 1024;

/** Text mutations of valid serialised documents (mixed with the untouched text). */
export function mutatedText(seed: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc
    .oneof(
      { weight: 2, arbitrary: seed },
      { weight: 5, arbitrary: fc.tuple(seed, fc.array(textEdit, { minLength: 1, maxLength: 3 })).map(([t, es]) => es.reduce(editText, t)) },
      { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
    )
    .map((t) => (t.length > MAX_TEXT_CHARS ? t.slice(0, MAX_TEXT_CHARS) : t));
}

type ByteEdit = { at: number; op: 'cut' | 'bad-utf8' | 'nul' | 'utf16le' | 'utf16be' | 'odd' };
const byteEdit: fc.Arbitrary<ByteEdit> = fc.record({ at: fc.nat(), op: fc.constantFrom('cut', 'bad-utf8', 'nul', 'utf16le', 'utf16be', 'odd') });

/** Bytes of the text, then cut mid-character, given invalid UTF-8, NULs, or re-encoded as UTF-16. */
export function mutatedBytes(seed: fc.Arbitrary<string>): fc.Arbitrary<Buffer> {
  return fc.tuple(mutatedText(seed), fc.option(byteEdit, { freq: 2 })).map(([text, e]) => {
    const utf8 = Buffer.from(text, 'utf8');
    if (!e) return utf8;
    const at = utf8.length ? e.at % utf8.length : 0;
    switch (e.op) {
      case 'cut': {
        // Cut inside a multi-byte character when there is one.
        const multi = utf8.findIndex((b, i) => i >= at && b >= 0xc0);
        return utf8.subarray(0, multi >= 0 ? multi + 1 : at);
      }
      case 'bad-utf8':
        return Buffer.concat([utf8.subarray(0, at), Buffer.from([0xc3, 0x28, 0xff, 0xed, 0xa0, 0x80]), utf8.subarray(at)]);
      case 'nul':
        return Buffer.concat([utf8.subarray(0, at), Buffer.alloc(3), utf8.subarray(at)]);
      case 'utf16le':
        return Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
      case 'utf16be':
        return Buffer.from(text, 'utf16le').swap16();
      case 'odd': {
        const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
        return le.subarray(0, Math.max(3, le.length - 1 - (at % 2 === 0 ? 0 : 2)));
      }
    }
  });
}
