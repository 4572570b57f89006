/** Reads the console's server-sent event feed the way the dashboard does, from Node. */
export interface FeedClient {
  batches: any[][];
  close(): void;
  waitFor(predicate: (message: any) => boolean, timeoutMs?: number): Promise<any>;
}

export async function openFeed(url: string, token: string): Promise<FeedClient> {
  const controller = new AbortController();
  const res = await fetch(`${url}/api/v1/feed`, { headers: { authorization: `Bearer ${token}` }, signal: controller.signal });
  if (res.status !== 200) throw new Error(`feed refused: ${res.status}`);
  const batches: any[][] = [];
  const decoder = new TextDecoder();
  let buffer = '';
  void (async () => {
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(frame)?.[1];
          const data = /^data: (.*)$/m.exec(frame)?.[1];
          if (event === 'batch' && data) batches.push(JSON.parse(data));
        }
      }
    } catch {
      /* aborted */
    }
  })();
  return {
    batches,
    close: () => controller.abort(),
    async waitFor(predicate, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = batches.flat().find(predicate);
        if (found) return found;
        if (Date.now() > deadline) throw new Error(`feed never carried the expected message; saw ${JSON.stringify(batches).slice(0, 800)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}
