import { randomBytes } from 'node:crypto';
import { createServer, get, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { BODY_CHUNK_BYTES, BodyPump, endWithBody } from '../../src/console/http/large-body.js';

/** Large response bodies over real loopback HTTP: handed to the socket a chunk at a time, whole at the other end. */
const servers: { close(): void }[] = [];
afterEach(() => servers.splice(0).forEach((s) => s.close()));

async function serve(body: Buffer, seen: { writes: number; done: Promise<void> | null }) {
  const server = createServer((_req, res: ServerResponse) => {
    const write = res.write.bind(res);
    res.write = ((chunk: Buffer, ...rest: never[]) => (seen.writes++, write(chunk, ...rest))) as typeof res.write;
    res.writeHead(200, { 'content-length': String(body.length) });
    seen.done = endWithBody(res, body, new BodyPump());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

describe('large response bodies', () => {
  it('arrive whole, byte for byte, written a chunk at a time', async () => {
    for (const length of [0, 1, BODY_CHUNK_BYTES, BODY_CHUNK_BYTES + 1, 3_718_729]) {
      const body = randomBytes(length);
      const seen = { writes: 0, done: null as Promise<void> | null };
      const url = await serve(body, seen);
      const received = await fetchBody(url);
      await seen.done;
      expect(received.equals(body)).toBe(true);
      expect(seen.writes).toBe(Math.max(0, Math.ceil(length / BODY_CHUNK_BYTES) - 1));
    }
  });

  it('stops writing when the client goes away, without waiting forever', async () => {
    const seen = { writes: 0, done: null as Promise<void> | null };
    const url = await serve(randomBytes(64 * 1024 * 1024), seen);
    await new Promise<void>((resolve) => {
      const req = get(url, (res) => res.once('data', () => (req.destroy(), resolve())));
    });
    await seen.done;
    expect(seen.writes).toBeLessThan(256);
  });

  it('shares the bytes a turn may write among every response in flight, in turns, whatever their number', async () => {
    // Readers as fast as loopback: the socket says it wants more after every chunk.
    const budget = 2 * BODY_CHUNK_BYTES;
    const pump = new BodyPump(budget);
    const responses = 10;
    const body = randomBytes(5 * BODY_CHUNK_BYTES + 5);
    const events: ({ turn: true } | { response: number; bytes: number; last: boolean })[] = [];
    let open = responses;
    // Marks every turn of the event loop while bodies are written.
    const turn = () => {
      events.push({ turn: true });
      if (open > 0) setImmediate(turn);
    };
    setImmediate(turn);
    let next = 0;
    const server = createServer((_req, res: ServerResponse) => {
      const response = next++;
      const write = res.write.bind(res);
      const end = res.end.bind(res);
      res.write = ((chunk: Buffer, ...rest: never[]) => (
        events.push({ response, bytes: chunk.length, last: false }),
        write(chunk, ...rest),
        true
      )) as typeof res.write;
      res.end = ((chunk: Buffer) => (events.push({ response, bytes: chunk.length, last: true }), end(chunk))) as typeof res.end;
      res.writeHead(200, { 'content-length': String(body.length) });
      void endWithBody(res, body, pump).then(() => open--);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server);
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const received = await Promise.all(Array.from({ length: responses }, () => fetchBody(url)));
    expect(received.every((r) => r.equals(body))).toBe(true);
    // Between two marks there is at most one refill of the pump: at most two turns' bytes.
    let window = 0;
    let most = 0;
    for (const event of events) {
      if ('turn' in event) window = 0;
      else most = Math.max(most, (window += event.bytes));
    }
    expect(most).toBeLessThanOrEqual(2 * budget);
  });

  it('gives writers their turns in the order they asked, at most a turn of bytes each turn', async () => {
    const pump = new BodyPump(200);
    const log: string[] = [];
    let turns = 0;
    const mark = () => {
      log.push('|');
      if (++turns < 20) setImmediate(mark);
    };
    setImmediate(mark);
    const writer = async (name: string, chunks: number) => {
      for (let i = 0; i < chunks; i++) {
        await pump.take(100);
        log.push(name);
      }
    };
    await Promise.all([writer('a', 3), writer('b', 3), writer('c', 3)]);
    // Two chunks a turn, in the order asked: a writer that asks again goes behind those waiting.
    expect(log.join('').replace(/\|+$/, '')).toBe('ab|ca|bc|ab|c');
  });
});

function fetchBody(url: string): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) =>
    get(url, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(Buffer.concat(chunks)));
    }).on('error', reject),
  );
}
