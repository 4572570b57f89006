/**
 * Splits a byte stream into lines no longer than `maxBytes`. An over-long line is reported once
 * (`onOversize`) and its bytes are discarded up to the next newline, so a hostile peer can
 * neither grow our memory nor smuggle half a line into the next message.
 */
export class LineSplitter {
  private parts: Buffer[] = [];
  private size = 0;
  private discarding = false;

  constructor(
    private readonly maxBytes: number,
    private readonly onLine: (line: string) => void,
    private readonly onOversize: () => void,
  ) {}

  get pending(): boolean {
    return this.size > 0 || this.discarding;
  }

  push(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      const piece = nl === -1 ? chunk.subarray(start) : chunk.subarray(start, nl);
      if (!this.discarding) {
        if (this.size + piece.length > this.maxBytes) {
          this.discarding = true;
          this.parts = [];
          this.size = 0;
          this.onOversize();
        } else if (piece.length) {
          this.parts.push(piece);
          this.size += piece.length;
        }
      }
      if (nl === -1) return;
      if (!this.discarding) {
        const line = Buffer.concat(this.parts, this.size).toString('utf8');
        this.parts = [];
        this.size = 0;
        if (line.trim()) this.onLine(line);
      }
      this.discarding = false;
      start = nl + 1;
    }
  }
}

/** One message per line: JSON never contains a raw newline, so this framing is unambiguous. */
export function encodeLine(message: unknown): string {
  return `${JSON.stringify(message)}\n`;
}
