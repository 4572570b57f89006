import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD, startConsoleProcess, type ConsoleHandle } from '../helpers/fleet.js';
import { CLI, stopAll, tempDir, waitUntil } from '../helpers/processes.js';

/** `vigil login` and `vigil user add` on a real pseudo-terminal (util-linux `script`). */
let dir: ReturnType<typeof tempDir>;
let consoleHandle: ConsoleHandle;
beforeAll(async () => {
  dir = tempDir();
  consoleHandle = await startConsoleProcess(join(dir.path, 'console'));
});
afterAll(async () => {
  await stopAll();
  dir.remove();
});

/** Runs the CLI under a pty, types `answers` one per prompt seen, and returns everything the terminal showed. */
async function onTerminal(args: string[], prompts: RegExp[], answers: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; screen: string }> {
  const command = ['node', CLI, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const fullEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  for (const name of ['VIGIL_PASSWORD', 'VIGIL_USERNAME', 'VIGIL_NEW_PASSWORD']) delete fullEnv[name];
  const child = spawn('script', ['-qfec', command, '/dev/null'], { env: fullEnv, stdio: ['pipe', 'pipe', 'pipe'] });
  let screen = '';
  child.stdout.on('data', (d: Buffer) => (screen += d.toString('utf8')));
  child.stderr.on('data', (d: Buffer) => (screen += d.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  for (let i = 0; i < prompts.length; i++) {
    const seenBefore = screen.length;
    await waitUntil(
      () => prompts[i]!.test(screen.slice(i === 0 ? 0 : seenBefore - 200)),
      15_000,
      () => `prompt ${prompts[i]} in ${JSON.stringify(screen)}`,
    );
    child.stdin.write(`${answers[i]}\r`);
  }
  const code = await exited;
  child.stdin.end();
  return { code, screen };
}

describe('secrets typed at the CLI are not echoed', () => {
  it('vigil login reads the password without showing it, and signs in', async () => {
    const home = join(dir.path, 'home-login');
    const { code, screen } = await onTerminal(['login', '--console', consoleHandle.url, '--username', 'admin'], [/Password: /], [ADMIN_PASSWORD], {
      XDG_CONFIG_HOME: home,
    });
    expect(screen).toMatch(/Password: /);
    expect(screen).not.toContain(ADMIN_PASSWORD);
    expect(code, screen).toBe(0);
    const saved = join(home, 'vigil', 'cli-session.json');
    await waitUntil(() => existsSync(saved));
    expect(readFileSync(saved, 'utf8')).not.toContain(ADMIN_PASSWORD);
  });

  it('vigil user add reads the new password without showing it', async () => {
    const secret = 'a-new-technician-password-42';
    const { code, screen } = await onTerminal(
      ['user', 'add', 'tech1', '--role', 'technician', '--console', consoleHandle.url],
      [/Password for tech1: /],
      [secret],
      { VIGIL_TOKEN: consoleHandle.token, XDG_CONFIG_HOME: join(dir.path, 'home-add') },
    );
    expect(screen).not.toContain(secret);
    expect(code, screen).toBe(0);
    const login = await consoleHandle.api('/api/v1/login', { method: 'POST', body: JSON.stringify({ username: 'tech1', password: secret }), token: null });
    expect(login.status).toBe(200);
  });
});
