import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * The hostile network between a real agent and a real console: every byte passes through here.
 * HTTP requests are forwarded (and recorded), unless `answer` serves them itself; WebSocket
 * connections are piped, and each console -> agent text frame may be rewritten, dropped, or
 * joined by injected frames. The console's frames are unmasked and never compressed
 * (perMessageDeflate is off on both ends), so they can be read and re-framed here.
 */
export interface TamperProxy {
  url: string;
  /** WebSocket connections the agent has opened through the proxy. */
  readonly upgrades: number;
  /** Every HTTP request forwarded or answered, in order. */
  readonly requests: { path: string; status: number; bytes: number }[];
  /** Bodies of forwarded answers, by path. */
  readonly bodies: Map<string, Buffer>;
  /** Console -> agent text frames, as the agent received them. */
  readonly frames: string[];
  rewrite: ((text: string) => Promise<string | null> | string | null) | null;
  answer: ((path: string, headers: IncomingHttpHeaders) => Promise<Buffer | null> | Buffer | null) | null;
  /** Sends a frame to the agent on its current connection. */
  inject(text: string): void;
  close(): Promise<void>;
}

function frame(text: string): Buffer {
  const payload = Buffer.from(text, 'utf8');
  const n = payload.length;
  const header = n < 126 ? Buffer.from([0x81, n]) : n < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
  if (n >= 126 && n < 65536) {
    header[0] = 0x81;
    header[1] = 126;
    header.writeUInt16BE(n, 2);
  } else if (n >= 65536) {
    header[0] = 0x81;
    header[1] = 127;
    header.writeBigUInt64BE(BigInt(n), 2);
  }
  return Buffer.concat([header, payload]);
}

/** Splits the console's side of a WebSocket into frames: [whole frame bytes, opcode, payload]. */
function nextFrame(buffer: Buffer): { size: number; opcode: number; fin: boolean; payload: Buffer } | null {
  if (buffer.length < 2) return null;
  const fin = (buffer[0]! & 0x80) !== 0;
  const opcode = buffer[0]! & 0x0f;
  let length = buffer[1]! & 0x7f;
  let offset = 2;
  if (length === 126) {
    if (buffer.length < 4) return null;
    length = buffer.readUInt16BE(2);
    offset = 4;
  } else if (length === 127) {
    if (buffer.length < 10) return null;
    length = Number(buffer.readBigUInt64BE(2));
    offset = 10;
  }
  if (buffer.length < offset + length) return null;
  return { size: offset + length, opcode, fin, payload: buffer.subarray(offset, offset + length) };
}

export async function startTamperProxy(consoleUrl: string): Promise<TamperProxy> {
  const target = new URL(consoleUrl);
  let current: Socket | null = null;
  const sockets = new Set<Socket>();
  const proxy: TamperProxy & { upgrades: number } = {
    url: '',
    upgrades: 0,
    requests: [],
    bodies: new Map(),
    frames: [],
    rewrite: null,
    answer: null,
    inject: (text) => {
      proxy.frames.push(text);
      current?.write(frame(text));
    },
    close: () => new Promise<void>((resolve) => (sockets.forEach((s) => s.destroy()), server.close(() => resolve()))),
  };
  const server: Server = createServer((req, res) => {
    void (async () => {
      const path = req.url ?? '/';
      const own = proxy.answer ? await proxy.answer(path, req.headers) : null;
      if (own) {
        proxy.requests.push({ path, status: 200, bytes: own.length });
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(own.length) });
        res.end(own);
        return;
      }
      // A connection per request (`agent: false`): a kept-alive one the console closes just as it is
      // reused would fail a request the agent made only once.
      const upstream = request({ host: target.hostname, port: target.port, method: req.method, path, headers: req.headers, agent: false }, (answer) => {
        const chunks: Buffer[] = [];
        answer.on('data', (c: Buffer) => chunks.push(c));
        answer.on('end', () => {
          const body = Buffer.concat(chunks);
          proxy.requests.push({ path, status: answer.statusCode ?? 0, bytes: body.length });
          if (answer.statusCode === 200) proxy.bodies.set(path, body);
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          res.end(body);
        });
      });
      // The console gone (stopped at the end of a test): the agent sees a failed request, as it would.
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    })();
  });
  server.on('upgrade', (req, socket: Socket, head: Buffer) => {
    proxy.upgrades++;
    sockets.add(socket);
    const upstream = connect(Number(target.port), target.hostname);
    sockets.add(upstream);
    const lines = [`${req.method} ${req.url} HTTP/1.1`];
    for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
    upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
    if (head.length) upstream.write(head);
    socket.pipe(upstream);
    current = socket;
    let handshake = true;
    let pending = Buffer.alloc(0);
    let chain = Promise.resolve();
    upstream.on('data', (data: Buffer) => {
      pending = Buffer.concat([pending, data]);
      if (handshake) {
        const end = pending.indexOf('\r\n\r\n');
        if (end < 0) return;
        socket.write(pending.subarray(0, end + 4));
        pending = pending.subarray(end + 4);
        handshake = false;
      }
      for (let next = nextFrame(pending); next; next = nextFrame(pending)) {
        const raw = Buffer.from(pending.subarray(0, next.size));
        pending = pending.subarray(next.size);
        const { opcode, fin, payload } = next;
        chain = chain.then(async () => {
          if (opcode !== 1 || !fin) return void socket.write(raw);
          const text = payload.toString('utf8');
          const out = proxy.rewrite ? await proxy.rewrite(text) : text;
          if (out === null) return;
          proxy.frames.push(out);
          socket.write(out === text ? raw : frame(out));
        });
      }
    });
    const end = () => {
      socket.destroy();
      upstream.destroy();
      if (current === socket) current = null;
    };
    upstream.on('close', end);
    socket.on('close', end);
    upstream.on('error', end);
    socket.on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return proxy;
}
