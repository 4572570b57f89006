import { readEventStream } from '../../src/shared/event-stream.js';

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
  void readEventStream(res.body as unknown as AsyncIterable<Uint8Array>, (event, data) => {
    if (event === 'batch') batches.push(JSON.parse(data));
  }).catch(() => undefined /* aborted */);
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
