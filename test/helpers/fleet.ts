import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { kill, runCli, startProcess, CLI, type Proc } from './processes.js';

export const ADMIN_PASSWORD = 'correct-horse-battery-staple';
export const ENROLL_TOKEN = 'test-enroll-token-0123456789';

export interface ConsoleHandle {
  proc: Proc;
  url: string;
  port: number;
  dataDir: string;
  /** Bearer token of the admin account. */
  token: string;
  api(path: string, init?: RequestInit & { token?: string | null }): Promise<{ status: number; body: any }>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts `vigil console` as its own process and signs in as admin. */
export async function startConsoleProcess(
  dataDir: string,
  opts: { port?: number; pingSeconds?: number; env?: NodeJS.ProcessEnv; args?: string[] } = {},
): Promise<ConsoleHandle> {
  // Port 0 unless the test needs a known one: the kernel picks a free port at listen time, where a
  // port picked before could be taken meanwhile (by a benchmark's thousands of connections, say).
  const proc = startProcess(
    [CLI, 'console', '--data-dir', join(dataDir), '--port', String(opts.port ?? 0), '--ping-interval', String(opts.pingSeconds ?? 2), ...(opts.args ?? [])],
    {
      VIGIL_ADMIN_PASSWORD: ADMIN_PASSWORD,
      VIGIL_ENROLL_TOKEN: ENROLL_TOKEN,
      ...opts.env,
    },
  );
  // A console starting on a busy 2-core machine (a full suite beside a benchmark) can take a while.
  const [, url] = await proc.waitFor(/listening on (http:\/\/\S+)/, 60_000);
  const port = Number(new URL(url!).port);
  const api: ConsoleHandle['api'] = async (path, init = {}) => {
    const { token: explicit, ...rest } = init;
    const token = explicit === undefined ? handle.token : explicit;
    const send = () =>
      fetch(url + path, {
        ...rest,
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...(rest.headers ?? {}) },
      });
    // A kept-alive connection the server closes just as it is reused fails with "other side
    // closed" (undici's keep-alive race); a browser retries an idempotent request then, and so do we.
    const idempotent = (rest.method ?? 'GET') === 'GET';
    const res = await send().catch((error: Error & { cause?: { code?: string } }) => {
      if (idempotent && error.cause?.code === 'UND_ERR_SOCKET') return send();
      throw error;
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };
  const handle: ConsoleHandle = {
    proc,
    url: url!,
    port,
    dataDir,
    token: '',
    api,
    stop: (signal = 'SIGTERM') => kill(proc, signal),
  };
  const login = await api('/api/v1/login', { method: 'POST', body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }), token: null });
  if (login.status !== 200) throw new Error(`admin login failed: ${JSON.stringify(login.body)}`);
  handle.token = login.body.token;
  return handle;
}

/** Starts `vigil agent` as its own process, enrolling on first start. */
export function startAgentProcess(dataDir: string, consoleUrl: string, env: NodeJS.ProcessEnv = {}, extraArgs: string[] = []): Proc {
  return startProcess([CLI, 'agent', '--data-dir', dataDir, '--console', consoleUrl, '--enroll-token', ENROLL_TOKEN, ...extraArgs], {
    VIGIL_BACKOFF_MAX_MS: '1000',
    ...env,
  });
}

/**
 * The CLI as an admin of a console started later (`handle` is read at each call): `cli` answers
 * the run, `ok` expects success and answers its output.
 */
export function adminCli(handle: () => ConsoleHandle) {
  const cli = (args: string[], token = handle().token) => runCli(args, { VIGIL_CONSOLE_URL: handle().url, VIGIL_TOKEN: token }, 60_000);
  const ok = async (args: string[]) => {
    const r = await cli(args);
    expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
    return r.stdout;
  };
  return { cli, ok };
}

/** Writes `doc` as JSON to `name` under `dir` and answers the path (a policy file for the CLI). */
export function writeJsonFile(dir: string, name: string, doc: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(doc));
  return path;
}
