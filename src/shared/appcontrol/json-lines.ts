import { ImportError } from './import.js';

/**
 * JSON.parse keeps no positions, and Node 20's messages often name none, so imported JSON is read
 * by this small strict parser instead: the same grammar (RFC 8259), line-precise errors, and the
 * line where every object and array starts (for notes about a rule).
 */
export function parseJsonWithLines(text: string, maxDepth = 64): { value: unknown; lines: WeakMap<object, number> } {
  const lines = new WeakMap<object, number>();
  let pos = 0;
  let line = 1;
  const fail = (message: string): never => {
    throw new ImportError(`not JSON: ${message}`, line);
  };
  const space = () => {
    for (; pos < text.length; pos++) {
      const c = text[pos];
      if (c === '\n') line++;
      else if (c !== ' ' && c !== '\t' && c !== '\r') break;
    }
  };
  const expect = (token: string) => {
    if (!text.startsWith(token, pos)) fail(`expected ${JSON.stringify(token)} at ${describe()}`);
    pos += token.length;
  };
  const describe = () => (pos >= text.length ? 'the end of the file' : JSON.stringify(text.slice(pos, pos + 12)));
  const string = (): string => {
    const m = /^"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/.exec(text.slice(pos, pos + 1_100_000));
    if (!m) fail(`malformed string at ${describe()}`);
    pos += m![0].length;
    return JSON.parse(m![0]) as string;
  };
  const value = (depth: number): unknown => {
    if (depth > maxDepth) fail(`nested deeper than ${maxDepth}`);
    space();
    const c = text[pos];
    const at = line;
    if (c === '{') {
      pos++;
      const obj: Record<string, unknown> = {};
      lines.set(obj, at);
      space();
      if (text[pos] === '}') return (pos++, obj);
      for (;;) {
        space();
        if (text[pos] !== '"') fail(`expected a property name at ${describe()}`);
        const key = string();
        space();
        expect(':');
        Object.defineProperty(obj, key, { value: value(depth + 1), enumerable: true, writable: true, configurable: true });
        space();
        if (text[pos] === ',') pos++;
        else if (text[pos] === '}') return (pos++, obj);
        else fail(`expected "," or "}" at ${describe()}`);
      }
    }
    if (c === '[') {
      pos++;
      const arr: unknown[] = [];
      lines.set(arr, at);
      space();
      if (text[pos] === ']') return (pos++, arr);
      for (;;) {
        arr.push(value(depth + 1));
        space();
        if (text[pos] === ',') pos++;
        else if (text[pos] === ']') return (pos++, arr);
        else fail(`expected "," or "]" at ${describe()}`);
      }
    }
    if (c === '"') return string();
    const m = /^(?:true|false|null|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?)/.exec(text.slice(pos, pos + 400));
    if (!m) return fail(`unexpected ${describe()}`);
    pos += m[0].length;
    return JSON.parse(m[0]) as unknown;
  };
  const result = value(0);
  space();
  if (pos < text.length) fail(`unexpected ${describe()} after the end of the value`);
  return { value: result, lines };
}
