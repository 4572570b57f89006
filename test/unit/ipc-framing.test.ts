import { describe, expect, it } from 'vitest';
import { encodeLine, LineSplitter } from '../../src/agent/local-ipc/framing.js';

/**
 * Local IPC framing at its edges: a line of exactly the cap passes, one byte more is dropped to
 * its newline however it is chunked, and nothing of a dropped line reaches the next message.
 */
function splitter(maxBytes: number) {
  const lines: string[] = [];
  let oversize = 0;
  const s = new LineSplitter(
    maxBytes,
    (l) => lines.push(l),
    () => oversize++,
  );
  return { s, lines, oversize: () => oversize };
}

describe('line framing', () => {
  it('passes a line of exactly the cap and drops one a byte longer', () => {
    const { s, lines, oversize } = splitter(8);
    s.push(Buffer.from('12345678\n123456789\nok\n'));
    expect(lines).toEqual(['12345678', 'ok']);
    expect(oversize()).toBe(1);
  });

  it('counts a line against the cap across chunks, and drops it whole', () => {
    const { s, lines, oversize } = splitter(10);
    s.push(Buffer.from('{"a":1,'));
    s.push(Buffer.from('"b":2}'));
    expect(oversize()).toBe(1);
    expect(s.pending).toBe(true); // still discarding up to the newline
    s.push(Buffer.from('"c":3}\n{"d":4}\n'));
    expect(lines).toEqual(['{"d":4}']);
    expect(oversize()).toBe(1);
    expect(s.pending).toBe(false);
    // Exactly the cap across chunks passes.
    s.push(Buffer.from('12345'));
    s.push(Buffer.from('67890\n'));
    expect(lines).toEqual(['{"d":4}', '1234567890']);
  });

  it('reports each oversized line once, and ignores blank and whitespace-only lines', () => {
    const { s, lines, oversize } = splitter(4);
    s.push(Buffer.from('aaaaaa'));
    s.push(Buffer.from('aaaaaa'));
    s.push(Buffer.from('aa\nbbbbbbb\n \n\t \n\n'));
    expect(oversize()).toBe(2);
    expect(lines).toEqual([]);
    expect(s.pending).toBe(false);
  });

  it('joins a character split between chunks', () => {
    const { s, lines } = splitter(64);
    const bytes = Buffer.from('{"name":"Zoë"}\n');
    s.push(bytes.subarray(0, 12));
    expect(s.pending).toBe(true);
    s.push(bytes.subarray(12));
    expect(lines).toEqual(['{"name":"Zoë"}']);
  });

  it('encodes one message per line', () => {
    expect(encodeLine({ text: 'two\nlines' })).toBe('{"text":"two\\nlines"}\n');
  });
});
