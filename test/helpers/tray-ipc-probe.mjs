// A tray-side process for the IPC tests, run as another user (setpriv). Uses the built client
// (dist/), so it exercises exactly what the tray ships. Prints one JSON line per result.
//   call SOCKET OP FIELDS_JSON     one request through TrayIpcClient (checks the service is root)
//   raw SOCKET BASE64              raw bytes, no checks; prints the answers and whether it was closed
//   hold SOCKET                    says hello and stays connected until killed
//   serve SOCKET                   an impostor service listening at SOCKET
import { connect, createServer } from 'node:net';
import { TrayIpcClient } from '../../dist/src/agent/local-ipc/client.js';

const [mode, path, a, b] = process.argv.slice(2);
const out = (value) => process.stdout.write(`${JSON.stringify(value)}\n`);

if (mode === 'call') {
  try {
    const client = await TrayIpcClient.connect({ path, callTimeoutMs: 10_000 });
    try {
      out({ ok: true, result: await client.call(a, JSON.parse(b ?? '{}')) });
    } catch (error) {
      out({ ok: false, code: error.code, message: error.message });
    }
    client.close();
  } catch (error) {
    out({ ok: false, code: 'connect', message: error.message });
  }
} else if (mode === 'raw') {
  const socket = connect(path);
  const lines = [];
  let buffer = '';
  socket.on('data', (d) => {
    buffer += d.toString();
    let i;
    while ((i = buffer.indexOf('\n')) >= 0) (lines.push(JSON.parse(buffer.slice(0, i))), (buffer = buffer.slice(i + 1)));
  });
  socket.on('error', () => undefined);
  socket.on('connect', () => socket.write(Buffer.from(a, 'base64')));
  const closed = await new Promise((resolve) => {
    socket.on('close', () => resolve(true));
    setTimeout(() => resolve(false), Number(b ?? 1500));
  });
  socket.destroy();
  out({ lines, closed });
} else if (mode === 'hold') {
  const client = await TrayIpcClient.connect({ path });
  out({ hello: await client.call('hello', { trayVersion: 'probe' }) });
  setInterval(() => undefined, 60_000);
} else if (mode === 'serve') {
  const server = createServer((c) => c.on('data', () => c.write('{"kind":"result","id":1,"ok":true,"result":{}}\n')));
  server.listen(path, () => out({ listening: path }));
}

// Modes of a hostile process of the pupil's (issue 15):
//   spam-idle SOCKET               says hello, then "idle 0" every second until killed; prints each answer
//   silent SOCKET N MS             opens N connections that never send, waits MS; prints how many the service closed
if (mode === 'spam-idle') {
  const client = await TrayIpcClient.connect({ path });
  out({ hello: await client.call('hello', { trayVersion: 'script' }) });
  const once = async () => {
    try {
      out({ idle: await client.call('idle.report', { idleSeconds: 0, state: 'active' }) });
    } catch (error) {
      out({ idle: null, code: error.code });
    }
  };
  await once();
  setInterval(() => void once(), 1000);
} else if (mode === 'silent') {
  const sockets = Array.from({ length: Number(a) }, () => connect(path));
  let closed = 0;
  for (const s of sockets) {
    s.on('error', () => undefined);
    s.on('close', () => closed++);
  }
  await new Promise((resolve) => setTimeout(resolve, Number(b)));
  out({ opened: sockets.length, closedByService: closed });
  sockets.forEach((s) => s.destroy());
}
