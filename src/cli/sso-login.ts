import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { z } from 'zod';
import { LoginResponseSchema } from '../shared/api.js';
import { pkceS256, randomToken } from '../shared/node/crypto.js';
import { CliError } from './errors.js';

const WAIT_MS = 5 * 60_000;

/**
 * `vigil login --sso`, as `gh auth login` does it: a one-use listener on a loopback port, the
 * browser sent through the console to the school's provider and back to that port with a
 * one-use code, and the code traded for a console session together with a verifier that never
 * left this process (so another local program that catches the redirect cannot use it).
 */
export async function ssoLogin(consoleUrl: string, say: (line: string) => void): Promise<z.infer<typeof LoginResponseSchema>> {
  const verifier = randomToken(48);
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  try {
    const port = (server.address() as AddressInfo).port;
    const start = new URL('/api/v1/sso/start', consoleUrl);
    start.search = new URLSearchParams({ cli_port: String(port), cli_challenge: pkceS256(verifier) }).toString();
    say(`Open this address in a browser to sign in (waiting up to 5 minutes):\n  ${start.href}`);
    if (!process.env.VIGIL_NO_BROWSER) openBrowser(start.href);
    const answer = await new Promise<URLSearchParams>((resolve, reject) => {
      const timer = setTimeout(() => reject(new CliError('no sign-in arrived within 5 minutes; run vigil login --sso again')), WAIT_MS);
      server.on('request', (req, res) => {
        const url = new URL(req.url ?? '/', 'http://127.0.0.1');
        if (req.method !== 'GET' || url.pathname !== '/callback') return void res.writeHead(404).end();
        const ok = url.searchParams.has('code');
        res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' });
        res.end(ok ? 'Signed in to Vigil. You can close this tab and go back to the terminal.' : 'Sign-in was refused; see the terminal.');
        clearTimeout(timer);
        resolve(url.searchParams);
      });
    });
    const error = answer.get('error');
    if (error) throw new CliError(`the console refused the sign-in (${error.slice(0, 40)}); try the browser sign-in page for details`);
    const res = await fetch(new URL('/api/v1/sso/cli', consoleUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ code: answer.get('code'), verifier }),
      signal: AbortSignal.timeout(30_000),
    });
    const body: unknown = await res.json().catch(() => null);
    if (!res.ok) throw new CliError(`console refused (${res.status}): ${(body as { message?: string } | null)?.message ?? res.statusText}`);
    return LoginResponseSchema.parse(body);
  } finally {
    server.close();
  }
}

/** Best effort: the address is printed as well. */
function openBrowser(url: string): void {
  const [command, args] =
    process.platform === 'darwin' ? ['open', [url]] : process.platform === 'win32' ? ['cmd', ['/c', 'start', '""', url]] : ['xdg-open', [url]];
  try {
    spawn(command, args as string[], { stdio: 'ignore', detached: true })
      .on('error', () => undefined)
      .unref();
  } catch {
    // No browser opener on this machine; the printed address is enough.
  }
}
