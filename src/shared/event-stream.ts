/**
 * Reads a `text/event-stream` body (server-sent events) and calls back once per complete event
 * with its name and data. Enough of the format for the console's feed: one `event:` and one
 * `data:` line per event; comments (keep-alives) are skipped. Used by the feed's Node clients
 * (benchmarks, tests); browsers have EventSource.
 */
export async function readEventStream(body: AsyncIterable<Uint8Array>, onEvent: (event: string, data: string) => void): Promise<void> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = /^event: (.*)$/m.exec(frame)?.[1];
      const data = /^data: (.*)$/m.exec(frame)?.[1];
      if (event && data !== undefined) onEvent(event, data);
    }
  }
}
