import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { freePort } from './free-port.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * HAProxy (Debian's package) in front of several console processes, for tests and benchmarks; and
 * the configuration it runs, which is also the documented example (docs/haproxy.cfg is
 * haproxyConfig(EXAMPLE_HAPROXY), checked by test/unit/haproxy-config.test.ts).
 */
export interface HaproxyOptions {
  /** What the front end listens on: `127.0.0.2:8443`, or `:443 ssl crt /etc/haproxy/vigil.pem`. */
  bind: string;
  /** The console processes: a name and `host:port` each. */
  servers: readonly { name: string; address: string }[];
  /** Connections this balancer holds at once; each is two open files (client and server side). */
  maxconn: number;
  /** Where to log: `stderr` (tests), or a syslog target such as `/dev/log`. */
  log: string;
  /** A Unix socket for `show stat` (the helper reads server states through it). */
  statsSocket?: string;
}

/** The example in docs/haproxy.cfg: three console processes behind one TLS front end. */
export const EXAMPLE_HAPROXY: HaproxyOptions = {
  bind: ':443 ssl crt /etc/haproxy/vigil.pem alpn http/1.1',
  servers: [
    { name: 'console1', address: '10.0.0.11:8080' },
    { name: 'console2', address: '10.0.0.12:8080' },
    { name: 'console3', address: '10.0.0.13:8080' },
  ],
  maxconn: 9900,
  log: '/dev/log',
  statsSocket: '/run/haproxy/vigil.sock',
};

export function haproxyConfig(options: HaproxyOptions): string {
  const stderr = options.log === 'stderr';
  return `# Vigil: one or more HAProxy instances in front of several console processes sharing one
# PostgreSQL database (docs/scaling.md). Agents hold one WebSocket each for as long as they run;
# browsers hold one server-sent-events feed per open dashboard.
global
    # Two open files per connection (client side and console side), plus a few of its own.
    maxconn ${options.maxconn}
    ulimit-n ${options.maxconn * 2 + 100}
    log ${stderr ? 'stderr format raw' : options.log} local0 notice
${options.statsSocket ? `    stats socket ${options.statsSocket} mode 600 level admin\n` : ''}
defaults
    mode http
    log global
    option httplog
    option dontlognull
    # The console sees the client's address (rate limits, enrollment and audit records) in
    # X-Forwarded-For: start it with --trust-proxy naming this balancer's address.
    option forwardfor
    timeout connect 5s
    # A request (and the enrollment or sign-in it carries) must arrive within 10 s.
    timeout http-request 10s
    timeout http-keep-alive 10s
    # The dashboard's feed sends a keep-alive every 25 s; the console pings agents every 15 s.
    timeout client 60s
    timeout server 60s
    # An upgraded WebSocket is a tunnel: idle for this long and it is closed (the agent reconnects).
    timeout tunnel 5m
    timeout client-fin 30s
    timeout server-fin 30s
    # A check waits this long for /healthz, which says 503 within 3 s when the database is gone: a
    # survivor of a failover that answers later is busy taking its dead peer's agents, not broken
    # (with 5 s, all three survivors of a 40,000-agent failover were taken out, again and again).
    timeout check 10s

frontend vigil
    bind ${options.bind}
    default_backend consoles

backend consoles
    # Connections last for hours: new ones go to the process holding the fewest, so a restarted
    # process fills up again as agents reconnect.
    balance leastconn
    # /healthz answers 503 while the process cannot reach its database.
    option httpchk
    http-check send meth GET uri /healthz ver HTTP/1.1 hdr Host vigil
    http-check expect status 200
    # A connection to a process that is gone (refused) is tried on another, up to 3 times.
    option redispatch
    retries 3
    # Checked every 2 s; out after 3 failures, back after 2 successes. Connections already open stay
    # open: closing a busy process's thousands of WebSockets because one check was slow would send
    # them all to the others at once (a process that dies drops its connections by itself).
    default-server check inter 2s fall 3 rise 2
${options.servers.map((s) => `    server ${s.name} ${s.address}`).join('\n')}
`;
}

/** A running HAProxy started by startHaproxy. */
export interface RunningHaproxy {
  readonly pid: number;
  /** The front end's URL (`http://host:port`). */
  readonly url: string;
  /** Each server's state as HAProxy sees it (`UP`, `DOWN`, `UP 1/2`…), from `show stat`. */
  serverStates(): Promise<Record<string, string>>;
  /** Stops it (SIGTERM to its PID, then SIGKILL after 5 s) and removes its files. */
  stop(): Promise<void>;
  /** The same, synchronously (for a process's 'exit' handler). */
  stopSync(): void;
  readonly log: () => string;
}

/** Why HAProxy cannot run here, or null. */
export function haproxyUnavailable(): string | null {
  return haproxyBinary() ? null : 'haproxy not found (apt-get install haproxy)';
}

export async function startHaproxy(options: { host?: string; port?: number; servers: HaproxyOptions['servers']; maxconn?: number }): Promise<RunningHaproxy> {
  const binary = haproxyBinary();
  if (!binary) throw new Error(haproxyUnavailable()!);
  const host = options.host ?? '127.0.0.1';
  // Free on 127.0.0.1 is, in practice, free on the other loopback addresses too.
  const port = options.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'vigil-haproxy-'));
  const statsSocket = join(dir, 'stats.sock');
  const config = join(dir, 'haproxy.cfg');
  writeFileSync(config, haproxyConfig({ bind: `${host}:${port}`, servers: options.servers, maxconn: options.maxconn ?? 2000, log: 'stderr', statsSocket }));
  // -db: stay in the foreground, so this process is HAProxy's parent and ends it by its PID.
  const child: ChildProcess = spawn(binary, ['-db', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-20_000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://${host}:${port}`;
  const running: RunningHaproxy = {
    pid: child.pid!,
    url,
    log: () => log,
    serverStates: async () => parseServerStates(await statsCommand(statsSocket, 'show stat')),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
    stopSync() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
  // Ready once the stats socket answers.
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`haproxy exited (${child.exitCode}): ${log}`);
    }
    if (existsSync(statsSocket) && (await statsCommand(statsSocket, 'show info').catch(() => ''))) break;
    if (Date.now() > deadline) {
      await running.stop();
      throw new Error(`haproxy did not start within 20 s: ${log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return running;
}

function statsCommand(socket: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const conn = connect(socket);
    let out = '';
    conn.on('data', (d) => (out += d.toString()));
    conn.on('end', () => resolve(out));
    conn.on('error', reject);
    conn.write(`${command}\n`);
  });
}

/** `show stat` is CSV with a `# pxname,svname,…` header; servers are the rows of backend `consoles`. */
function parseServerStates(csv: string): Record<string, string> {
  const [header, ...rows] = csv.trim().split('\n');
  const columns = header!.replace(/^# /, '').split(',');
  const at = (name: string) => columns.indexOf(name);
  const states: Record<string, string> = {};
  for (const row of rows) {
    const cells = row.split(',');
    if (cells[at('pxname')] !== 'consoles' || ['FRONTEND', 'BACKEND'].includes(cells[at('svname')]!)) continue;
    states[cells[at('svname')]!] = cells[at('status')]!;
  }
  return states;
}

function haproxyBinary(): string | null {
  for (const candidate of ['/usr/sbin/haproxy', '/usr/local/sbin/haproxy']) if (existsSync(candidate)) return candidate;
  try {
    return execFileSync('sh', ['-c', 'command -v haproxy'], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}
