// The Windows tray pipe end to end, run by a Windows node.exe (under Wine here, by
// test/integration/win32-pipe-wine.e2e.test.ts; natively on a Windows runner). Uses the built
// code (dist/) and the addon named by VIGIL_PEERCRED_ADDON. Appends one JSON line per step to
// the file named last on the command line (a file, not stdout: under Wine node.exe cannot write
// to the Unix pipe it would be given).
//   service OUT   the service: listens on \\.\pipe\vigil-tray, starts a tray process, then the checks
//   tray OUT      a tray in its own process: connects, says hello, then requests and notices both ways
import { spawn } from 'node:child_process';
import { appendFileSync, closeSync } from 'node:fs';
import { release } from 'node:os';
import { fileURLToPath } from 'node:url';
import { TrayIpcClient } from '../../dist/src/agent/local-ipc/client.js';
import { TrayIpcServer } from '../../dist/src/agent/local-ipc/server.js';
import { trayServerTransport } from '../../dist/src/agent/local-ipc/transport.js';
import { connectTrayPipe, listenTrayPipe, loadPipeAddon, trayPipeSddl } from '../../dist/src/agent/local-ipc/win32-pipe.js';

const [mode, out] = process.argv.slice(2);
const record = (step, value) => appendFileSync(out, `${JSON.stringify({ step, ...value })}\n`);
const errorOf = (error) => ({ message: error.message, code: error.code ?? null });
const ROUNDS = 5;
const AT_ONCE = 8; // IPC_LIMITS.maxInFlight

function waitFor(check, ms) {
  return new Promise((resolve) => {
    const started = Date.now();
    const timer = setInterval(() => {
      if (check() || Date.now() - started > ms) (clearInterval(timer), resolve(check()));
    }, 10);
  });
}

if (mode === 'tray') {
  try {
    const client = await TrayIpcClient.connect({ path: 'unused: Windows uses the named pipe', callTimeoutMs: 20_000 });
    const notices = [];
    client.on('notice', (notice) => notices.push(notice.text));
    const hello = await client.call('hello', { trayVersion: 'wine-e2e' });
    const answers = [];
    // Each round writes its requests back to back while the service writes answers and a notice per request.
    for (let round = 0; round < ROUNDS; round++) {
      const batch = Array.from({ length: AT_ONCE }, (_, i) => client.call('hello', { trayVersion: `r${round}-${i}` }));
      answers.push(...(await Promise.all(batch)));
    }
    await waitFor(() => notices.length >= ROUNDS * AT_ONCE, 20_000);
    record('tray', { pid: process.pid, hello, answers: answers.length, sameUser: answers.every((a) => a.user === hello.user), notices });
    client.close();
  } catch (error) {
    record('tray', { pid: process.pid, error: errorOf(error) });
  }
} else if (mode === 'service') {
  record('facts', { platform: process.platform, arch: process.arch, node: process.version, osRelease: release(), pid: process.pid });
  const logged = [];
  const log = { debug() {}, info() {}, warn: (m, f) => logged.push({ m, f }), error: (m, f) => logged.push({ m, f }), child: () => log };
  const peers = [];
  let server;
  const handler = {
    async handle(request, peer) {
      peers.push(peer);
      if (request.op !== 'hello') throw new Error(`unexpected ${request.op}`);
      server.notifyUser(peer.user, { kind: 'notice', notice: 'session.warning', text: `after ${request.trayVersion}: ${'n'.repeat(400)}` });
      return { user: peer.user, sessionUser: false, tray: peer.tray ?? null };
    },
  };
  const transport = trayServerTransport('unused', undefined);
  server = new TrayIpcServer({
    path: transport.path,
    handler,
    credentialsOf: () => {
      throw new Error('pipes are named by the listener');
    },
    listener: transport.listener,
    userName: () => '?',
    log,
  });
  await server.listen();
  record('listening', { kind: transport.kind, path: transport.path, peerCheck: transport.peerCheck });

  // A second service on the same name is refused while the first holds it.
  try {
    const second = listenTrayPipe(
      () => undefined,
      () => undefined,
    );
    second.close();
    record('second', { refused: false });
  } catch (error) {
    record('second', { refused: true, error: errorOf(error) });
  }

  // A tray in its own process.
  const tray = spawn(process.execPath, [fileURLToPath(import.meta.url), 'tray', out], { stdio: 'ignore' });
  const trayExit = await new Promise((resolve) => tray.on('exit', (code) => resolve(code)));
  record('service-saw', { trayPid: tray.pid, trayExit, peers: [...new Map(peers.map((p) => [`${p.pid}/${p.user}`, p])).values()] });

  // An impostor: a pipe whose owner is not LocalSystem (here: the default owner, whoever made it).
  const addon = loadPipeAddon();
  const impostorName = '\\\\.\\pipe\\vigil-impostor';
  const impostor = addon.pipeListen(impostorName, 'D:P(A;;GA;;;WD)', () => undefined);
  try {
    connectTrayPipe(impostorName).destroy();
    record('impostor', { refused: false });
  } catch (error) {
    record('impostor', { refused: true, error: errorOf(error) });
  }
  addon.pipeClose(impostor);

  // Stop returns (it waits for the listener thread) and frees the name.
  const stopStarted = Date.now();
  await server.close();
  const stopMs = Date.now() - stopStarted;
  let afterStop;
  try {
    connectTrayPipe().destroy();
    afterStop = { connected: true };
  } catch (error) {
    afterStop = { connected: false, error: errorOf(error) };
  }
  let relisten;
  try {
    listenTrayPipe(
      () => undefined,
      () => undefined,
    ).close();
    relisten = { ok: true };
  } catch (error) {
    relisten = { ok: false, error: errorOf(error) };
  }
  record('stopped', { stopMs, afterStop, relisten, logged });

  // Stop racing the listener thread: close at once after listening, and while a client connects.
  // A delivered client is JavaScript's to close; until it is, its instance keeps the name.
  const sddl = trayPipeSddl();
  const raceName = '\\\\.\\pipe\\vigil-stop-race';
  let raced = 0;
  let refusedDuringRace = 0;
  let delivered = 0;
  let connected = 0;
  const closeClient = (error, client) => {
    if (client) (closeSync(client.fd), delivered++);
  };
  for (let i = 0; i < 100; i++) {
    const handle = addon.pipeListen(raceName, sddl, closeClient);
    if (i % 2 === 1) {
      try {
        connectTrayPipe(raceName).destroy();
        connected++;
      } catch {
        refusedDuringRace++;
      }
    }
    addon.pipeClose(handle);
    addon.pipeClose(handle); // twice: idempotent
    raced++;
    // A client accepted just before the close was queued before the thread ended: it arrives on the
    // next turn of the loop and closeClient closes it, or the next pipeListen finds the name taken.
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  // Listeners never closed: their finalizers stop them once collected (run with --expose-gc).
  for (let i = 0; i < 5; i++) addon.pipeListen(`\\\\.\\pipe\\vigil-dropped-${i}`, sddl, () => undefined);
  globalThis.gc?.();
  await new Promise((resolve) => setTimeout(resolve, 200));
  globalThis.gc?.();
  record('races', { raced, refusedDuringRace, connected, delivered, gc: typeof globalThis.gc === 'function' });

  // Bad input is an error, not a crash.
  const bad = [];
  for (const call of [
    () => addon.pipeListen(1, sddl, () => undefined),
    () => addon.pipeListen('\\\\.\\pipe\\x', 'not sddl', () => undefined),
    () => addon.pipeClose({}),
    () => addon.pipeConnect('\\\\.\\pipe\\x'),
  ]) {
    try {
      call();
      bad.push(null);
    } catch (error) {
      bad.push(errorOf(error));
    }
  }
  record('bad-input', { bad });
  // The process must now end by itself: nothing may keep the loop alive or hang in a finalizer.
  process.on('exit', (code) => record('exit', { code }));
}
