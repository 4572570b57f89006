/**
 * A small, strict XML reader: enough for AppLocker policy files, nothing more. Elements,
 * attributes, text, CDATA, comments and the XML declaration. DOCTYPE (and with it every
 * user-defined or external entity: no XXE, no entity expansion bombs) and processing
 * instructions are refused; only the five predefined entities and character references are
 * decoded. Every node and every error carries its line number.
 */

export class XmlError extends Error {
  constructor(
    readonly detail: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(`line ${line}, column ${column}: ${detail}`);
  }
}

export interface XmlElement {
  name: string;
  attributes: Map<string, string>;
  children: XmlElement[];
  /** Concatenated character data directly inside this element. */
  text: string;
  line: number;
}

const MAX_BYTES = 32 * 1024 * 1024;
const MAX_DEPTH = 64;
const PREDEFINED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };
const NAME = /[A-Za-z_:][A-Za-z0-9_:.-]*/y;

/**
 * Bytes to text: a BOM decides (UTF-8, UTF-16 LE, UTF-16 BE); without one, the first bytes of
 * `<?` or `<` tell UTF-16 from UTF-8 (XML 1.0 appendix F). Invalid sequences are an error, not
 * replacement characters.
 */
export function decodeXmlBytes(bytes: Uint8Array): string {
  if (bytes.length > MAX_BYTES) throw new XmlError(`file is larger than ${MAX_BYTES} bytes`, 1, 1);
  const b0 = bytes[0];
  const b1 = bytes[1];
  let encoding: 'utf-8' | 'utf-16le' | 'utf-16be' = 'utf-8';
  let start = 0;
  if (b0 === 0xef && b1 === 0xbb && bytes[2] === 0xbf) start = 3;
  else if (b0 === 0xff && b1 === 0xfe) [encoding, start] = ['utf-16le', 2];
  else if (b0 === 0xfe && b1 === 0xff) [encoding, start] = ['utf-16be', 2];
  else if (b0 === 0x3c && b1 === 0x00) encoding = 'utf-16le';
  else if (b0 === 0x00 && b1 === 0x3c) encoding = 'utf-16be';
  let body = bytes.subarray(start);
  if (encoding !== 'utf-8' && body.length % 2 !== 0) throw new XmlError(`${encoding} text with an odd number of bytes`, 1, 1);
  if (encoding === 'utf-16be') {
    // Swap to little-endian: TextDecoder's UTF-16 BE support depends on Node's ICU build.
    const swapped = new Uint8Array(body.length);
    for (let i = 0; i < body.length; i += 2) [swapped[i], swapped[i + 1]] = [body[i + 1]!, body[i]!];
    body = swapped;
    encoding = 'utf-16le';
  }
  try {
    return new TextDecoder(encoding, { fatal: true }).decode(body);
  } catch {
    throw new XmlError(`not valid ${encoding === 'utf-8' ? 'UTF-8' : 'UTF-16'} text`, 1, 1);
  }
}

export interface XmlOptions {
  /**
   * The one document type this caller reads, e.g. `plist`: a `<!DOCTYPE plist PUBLIC "…" "…">`
   * naming only an external DTD is then skipped. It is never fetched and declares nothing here
   * (an entity it might define stays an error), so it is harmless; an internal subset is still refused.
   */
  externalDoctype?: string;
}

export function parseXml(text: string, options: XmlOptions = {}): XmlElement {
  return new Reader(text, options).document();
}

class Reader {
  private pos = 0;
  private line = 1;

  constructor(
    private readonly s: string,
    private readonly options: XmlOptions = {},
  ) {}

  fail(message: string, at = this.pos): never {
    // Recount for positions behind the cursor (errors are rare; clarity beats speed here).
    let line = 1;
    let lineStart = 0;
    for (let i = 0; i < at; i++) if (this.s.charCodeAt(i) === 10) [line, lineStart] = [line + 1, i + 1];
    throw new XmlError(message, line, at - lineStart + 1);
  }

  private advance(to: number): void {
    for (let i = this.pos; i < to; i++) if (this.s.charCodeAt(i) === 10) this.line++;
    this.pos = to;
  }

  private startsWith(token: string): boolean {
    return this.s.startsWith(token, this.pos);
  }

  private skipSpace(): void {
    let i = this.pos;
    while (i < this.s.length && ' \t\r\n'.includes(this.s[i]!)) i++;
    this.advance(i);
  }

  private until(token: string, what: string): string {
    const end = this.s.indexOf(token, this.pos);
    if (end < 0) this.fail(`unterminated ${what}`);
    const body = this.s.slice(this.pos, end);
    this.advance(end + token.length);
    return body;
  }

  document(): XmlElement {
    if (this.s.startsWith('\uFEFF')) this.advance(1);
    if (this.startsWith('<?xml') && /\s/.test(this.s[this.pos + 5] ?? '')) {
      const at = this.pos;
      const decl = this.until('?>', 'XML declaration');
      if (!/^<\?xml\s+version\s*=\s*["']1\.[01]["']/.test(decl)) this.fail('the XML declaration must start with version="1.0"', at);
    }
    this.misc();
    if (!this.startsWith('<')) this.fail(this.pos >= this.s.length ? 'no root element' : 'text before the root element');
    const root = this.element(0);
    this.misc();
    if (this.pos < this.s.length) this.fail('content after the root element');
    return root;
  }

  private doctype(): void {
    const name = this.options.externalDoctype;
    const at = this.pos;
    const external = name
      ? new RegExp(`^<!DOCTYPE\\s+${name}\\s+(PUBLIC\\s+"[^"<>\\[]*"\\s+"[^"<>\\[]*"|SYSTEM\\s+"[^"<>\\[]*")\\s*>`).exec(this.s.slice(at, at + 512))
      : null;
    if (!external) this.fail('DOCTYPE is not allowed (no DTDs, no custom or external entities)');
    this.advance(at + external[0].length);
  }

  /** Whitespace and comments between top-level constructs; refuses DTDs and PIs. */
  private misc(): void {
    for (;;) {
      this.skipSpace();
      if (this.startsWith('<!--')) this.comment();
      else if (this.startsWith('<!DOCTYPE') || this.startsWith('<!doctype')) this.doctype();
      else if (this.startsWith('<?')) this.fail('processing instructions are not allowed (and the XML declaration must come first)');
      else return;
    }
  }

  private comment(): void {
    const start = this.pos;
    this.advance(this.pos + 4);
    const body = this.until('-->', 'comment');
    if (body.includes('--')) this.fail('"--" is not allowed inside a comment', start);
  }

  private name(): string {
    NAME.lastIndex = this.pos;
    const m = NAME.exec(this.s);
    if (!m) this.fail('expected a name');
    this.advance(this.pos + m[0].length);
    return m[0];
  }

  private element(depth: number): XmlElement {
    if (depth >= MAX_DEPTH) this.fail(`elements nested deeper than ${MAX_DEPTH}`);
    const line = this.line;
    this.advance(this.pos + 1); // '<'
    const element: XmlElement = { name: this.name(), attributes: new Map(), children: [], text: '', line };
    for (;;) {
      const hadSpace = /\s/.test(this.s[this.pos] ?? '');
      this.skipSpace();
      if (this.startsWith('/>')) {
        this.advance(this.pos + 2);
        return element;
      }
      if (this.startsWith('>')) {
        this.advance(this.pos + 1);
        break;
      }
      if (this.pos >= this.s.length) this.fail(`unterminated start tag <${element.name}>`);
      if (!hadSpace) this.fail('expected whitespace between attributes');
      const attrAt = this.pos;
      const name = this.name();
      this.skipSpace();
      if (!this.startsWith('=')) this.fail(`attribute ${name} has no value`);
      this.advance(this.pos + 1);
      this.skipSpace();
      const quote = this.s[this.pos];
      if (quote !== '"' && quote !== "'") this.fail(`the value of ${name} must be quoted`);
      this.advance(this.pos + 1);
      const valueAt = this.pos;
      const raw = this.until(quote, `value of attribute ${name}`);
      if (raw.includes('<')) this.fail(`"<" is not allowed in the value of ${name}`, valueAt);
      if (element.attributes.has(name)) this.fail(`attribute ${name} appears twice`, attrAt);
      element.attributes.set(name, this.decode(raw, valueAt).replace(/[\t\n\r]/g, ' '));
    }
    for (;;) {
      if (this.pos >= this.s.length) this.fail(`<${element.name}> (line ${line}) is never closed`);
      if (this.startsWith('</')) {
        const closeAt = this.pos;
        this.advance(this.pos + 2);
        const name = this.name();
        this.skipSpace();
        if (!this.startsWith('>')) this.fail(`malformed end tag </${name}>`);
        this.advance(this.pos + 1);
        if (name !== element.name) this.fail(`</${name}> does not close <${element.name}> (line ${line})`, closeAt);
        return element;
      }
      if (this.startsWith('<!--')) this.comment();
      else if (this.startsWith('<![CDATA[')) {
        this.advance(this.pos + 9);
        element.text += this.until(']]>', 'CDATA section');
      } else if (this.startsWith('<!')) this.fail('declarations (<!...>) are not allowed inside elements');
      else if (this.startsWith('<?')) this.fail('processing instructions are not allowed');
      else if (this.startsWith('<')) element.children.push(this.element(depth + 1));
      else {
        const end = this.s.indexOf('<', this.pos);
        const at = this.pos;
        const raw = this.s.slice(this.pos, end < 0 ? this.s.length : end);
        this.advance(at + raw.length);
        element.text += this.decode(raw, at);
      }
    }
  }

  private decode(raw: string, at: number): string {
    return raw.replace(/&([^;&\s]*);?/g, (match, ref: string, offset: number) => {
      if (!match.endsWith(';')) this.fail('"&" must start an entity reference such as &amp;', at + offset);
      if (ref in PREDEFINED) return PREDEFINED[ref]!;
      const numeric = /^#(?:x([0-9A-Fa-f]{1,6})|([0-9]{1,7}))$/.exec(ref);
      if (numeric) {
        const code = numeric[1] !== undefined ? parseInt(numeric[1], 16) : Number(numeric[2]);
        if (code === 0 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff))
          this.fail(`character reference &${ref}; is not a valid character`, at + offset);
        return String.fromCodePoint(code);
      }
      // The reference is whatever the file held up to ";": escaped and cut, so the message stays one plain line.
      return this.fail(
        `entity &${JSON.stringify(ref.slice(0, 40)).slice(1, -1)}; is not one of the five predefined entities (lt, gt, amp, quot, apos)`,
        at + offset,
      );
    });
  }
}

/** Escapes text for an attribute value in double quotes (also fine for element text). */
export function xmlEscape(value: string): string {
  // Characters XML 1.0 does not allow (most controls, lone surrogates) become U+FFFD, so the
  // file stays readable as XML and encodable as UTF-16 whatever a rule's description holds.
  return (
    value
      .toWellFormed()
      // eslint-disable-next-line no-control-regex
      .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '\ufffd')
      .replace(/[&<>"']/g, (c) => `&${{ '&': 'amp', '<': 'lt', '>': 'gt', '"': 'quot', "'": 'apos' }[c]};`)
  );
}

/** UTF-16 LE with a BOM: what Windows PowerShell's AppLocker cmdlets write and read. */
export function encodeUtf16le(text: string): Buffer {
  return Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
}
