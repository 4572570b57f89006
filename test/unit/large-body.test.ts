import { randomBytes } from 'node:crypto';
import { createServer, get, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { BODY_CHUNK_BYTES, endWithBody } from '../../src/console/http/large-body.js';

/** Large response bodies over real loopback HTTP: handed to the socket a chunk at a time, whole at the other end. */
const servers: { close(): void }[] = [];
afterEach(() => servers.splice(0).forEach((s) => s.close()));

async function serve(body: Buffer, seen: { writes: number; done: Promise<void> | null }) {
  const server = createServer((_req, res: ServerResponse) => {
    const write = res.write.bind(res);
    res.write = ((chunk: Buffer, ...rest: never[]) => (seen.writes++, write(chunk, ...rest))) as typeof res.write;
    res.writeHead(200, { 'content-length': String(body.length) });
    seen.done = endWithBody(res, body);
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
      const received = await new Promise<Buffer>((resolve, reject) =>
        get(url, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve(Buffer.concat(chunks)));
        }).on('error', reject),
      );
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

  it('writes each chunk in a turn of the event loop of its own, even when the socket takes every chunk at once', async () => {
    // A reader as fast as loopback: the socket says it wants more after every chunk.
    const order: string[] = [];
    let writing = true;
    const body = randomBytes(8 * BODY_CHUNK_BYTES + 5);
    const server = createServer((_req, res: ServerResponse) => {
      const write = res.write.bind(res);
      res.write = ((chunk: Buffer, ...rest: never[]) => (order.push('write'), write(chunk, ...rest), true)) as typeof res.write;
      res.writeHead(200, { 'content-length': String(body.length) });
      // Marks every turn of the event loop while the body is written.
      const turn = () => {
        order.push('turn');
        if (writing) setImmediate(turn);
      };
      setImmediate(turn);
      void endWithBody(res, body).then(() => (writing = false));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server);
    const received = await new Promise<Buffer>((resolve, reject) =>
      get(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(Buffer.concat(chunks)));
      }).on('error', reject),
    );
    expect(received.equals(body)).toBe(true);
    expect(order.filter((e) => e === 'write').length).toBe(8);
    // Never two chunks in one turn.
    expect(order.join(' ')).not.toMatch(/write write/);
  });
});
