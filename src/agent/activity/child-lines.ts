import type { Readable } from 'node:stream';

/**
 * Calls `onLine` for each complete line a helper process prints (xprop, dbus-monitor). A line
 * longer than `maxLine` is not something we asked for: it is dropped whole, so a hostile
 * window title can neither grow our memory nor be misread as the start of another line.
 */
export function forEachLine(stream: Readable, onLine: (line: string) => void, options: { encoding: BufferEncoding; maxLine: number }): void {
  let buffer = '';
  let dropping = false;
  stream.setEncoding(options.encoding);
  stream.on('data', (chunk: string) => {
    buffer += chunk;
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (!dropping) onLine(line);
      dropping = false;
    }
    if (buffer.length > options.maxLine) {
      buffer = '';
      dropping = true;
    }
  });
}
