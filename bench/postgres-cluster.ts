import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

/**
 * A throwaway PostgreSQL cluster from Debian's package, for tests and benchmarks: initdb in a
 * temporary directory, the server on a random port listening only on a Unix socket in that
 * directory, stopped and removed by stop(). As root it runs as the `postgres` user the package
 * creates (PostgreSQL refuses to run as root).
 */
export interface PostgresCluster {
  /** A URL for database `name` of this cluster (the superuser `vigil`, trust auth over the socket). */
  url(name: string): string;
  /** Creates an empty database (byte-order collation, as the console needs) and returns its URL. */
  createDatabase(name?: string): Promise<string>;
  /** Stops the server (immediate) and keeps its data: clients find no database until resume(). */
  halt(): Promise<void>;
  /** Starts a halted server again on the same port and socket. */
  resume(): Promise<void>;
  /** Stops the server (immediate) and removes its directory. */
  stop(): Promise<void>;
  /** The same, synchronously (for a process's 'exit' handler). */
  stopSync(): void;
  readonly dir: string;
  readonly port: number;
}

/** Why no cluster can be started here, or null. */
export function postgresUnavailable(): string | null {
  if (!postgresBinDir()) return 'PostgreSQL server binaries not found under /usr/lib/postgresql (apt-get install postgresql)';
  if (process.getuid?.() === 0 && !userIds('postgres')) return 'running as root and there is no postgres user to run the server as';
  return null;
}

let counter = 0;

export async function startPostgresCluster(options: { settings?: Record<string, string> } = {}): Promise<PostgresCluster> {
  const bin = postgresBinDir();
  if (!bin) throw new Error(postgresUnavailable() ?? 'no PostgreSQL');
  const dir = mkdtempSync(join(tmpdir(), 'vigil-pg-'));
  const data = join(dir, 'data');
  const owner = process.getuid?.() === 0 ? userIds('postgres') : null;
  if (owner) {
    chownSync(dir, owner.uid, owner.gid);
    chmodSync(dir, 0o755);
  }
  const run = (program: string, args: string[]) =>
    execFileSync(join(bin, program), args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir, ...(owner ? { uid: owner.uid, gid: owner.gid } : {}) });
  // Each cluster gets its own random port: the socket file is named after it.
  const port = 20_000 + Math.floor(Math.random() * 40_000);
  let opts = '';
  const start = () => run('pg_ctl', ['-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '120', '-o', opts, 'start']);
  const halt = () =>
    new Promise<void>((resolve) => {
      const child = spawn(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop'], {
        stdio: 'ignore',
        ...(owner ? { uid: owner.uid, gid: owner.gid } : {}),
      });
      child.on('exit', () => resolve());
      child.on('error', () => resolve());
    });
  try {
    run('initdb', ['-D', data, '-U', 'vigil', '--auth=trust', '--locale=C', '--encoding=UTF8', '--no-sync']);
    const settings = { listen_addresses: "''", unix_socket_directories: `'${dir}'`, port: String(port), max_connections: '300', ...options.settings };
    opts = Object.entries(settings)
      .map(([k, v]) => `-c ${k}=${v}`)
      .join(' ');
    start();
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new Error(`could not start PostgreSQL in ${dir}: ${stderr || String(error)}`, { cause: error });
  }
  const url = (name: string) => `postgresql://vigil@${encodeURIComponent(dir)}:${port}/${name}`;
  return {
    dir,
    port,
    url,
    async createDatabase(name = `vigil_${process.pid}_${++counter}_${Date.now()}`) {
      const client = new pg.Client({ connectionString: url('postgres') });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE "${name}"`);
      } finally {
        await client.end();
      }
      return url(name);
    },
    halt,
    async resume() {
      start();
    },
    async stop() {
      await halt();
      rmSync(dir, { recursive: true, force: true });
    },
    stopSync() {
      try {
        run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } catch {
        // Already stopped.
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function postgresBinDir(): string | null {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(root, versions[0], 'bin') : null;
}

function userIds(name: string): { uid: number; gid: number } | null {
  try {
    const uid = Number(execFileSync('id', ['-u', name]).toString().trim());
    const gid = Number(execFileSync('id', ['-g', name]).toString().trim());
    return { uid, gid };
  } catch {
    return null;
  }
}
