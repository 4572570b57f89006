import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createConnection } from 'node:net';
import { freePort } from './free-port.js';

/**
 * Throwaway message-bus servers from Debian's packages (nats-server, redis-server) for tests and
 * benchmarks: each on its own free loopback port, nothing written to disk, stopped by PID.
 */
export interface BusServer {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** Stops the server (SIGKILL by its PID) and waits for it to exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port (reconnect tests). */
  restart(): Promise<void>;
}

export function busServerUnavailable(kind: 'nats' | 'redis'): string | null {
  const program = kind === 'nats' ? 'nats-server' : 'redis-server';
  try {
    execFileSync('sh', ['-c', `command -v ${program}`], { stdio: 'ignore' });
    return null;
  } catch {
    return `${program} not found (apt-get install ${program})`;
  }
}

/** nats-server on loopback; `configFile`: its configuration (TLS, authorization), the address and port still given here. */
export function startNatsServer(configFile?: string): Promise<BusServer> {
  return startServer('nats', (port) => ['nats-server', [...(configFile ? ['-c', configFile] : []), '-a', '127.0.0.1', '-p', String(port)]]);
}

export function startRedisServer(): Promise<BusServer> {
  return startServer('redis', (port) => [
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no'],
  ]);
}

async function startServer(kind: 'nats' | 'redis', command: (port: number) => [string, string[]]): Promise<BusServer> {
  const port = await freePort();
  let child: ChildProcess;
  const launch = async () => {
    const [program, args] = command(port);
    child = spawn(program, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    await waitForPort(
      port,
      () => child.exitCode !== null || child.signalCode !== null,
      () => stderr,
    );
  };
  const halt = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  await launch();
  return {
    url: `${kind === 'nats' ? 'nats' : 'redis'}://127.0.0.1:${port}`,
    port,
    get pid() {
      return child.pid!;
    },
    stop: halt,
    async restart() {
      await halt();
      await launch();
    },
  };
}

async function waitForPort(port: number, exited: () => boolean, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited()) throw new Error(`bus server on port ${port} exited: ${stderr()}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ port, host: '127.0.0.1' });
      socket.once('connect', () => (socket.destroy(), resolve(true)));
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`bus server on port ${port} did not start: ${stderr()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
