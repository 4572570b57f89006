import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, REPO, tempDir, waitUntil } from '../helpers/processes.js';

/**
 * The README's two quick-start commands, run exactly as written in a fresh clone of the
 * committed tree (no node_modules, no dist): the first must bring up a console and an enrolled
 * agent and print how to sign in; the second must install, build and run the test runner.
 */
const quickStart = () => {
  const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
  const section = /## Quick start[\s\S]*?```(?:sh|bash)?\n([\s\S]*?)```/.exec(readme);
  if (!section) throw new Error('README has no quick start code block');
  return section[1]!
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
};

let dir: ReturnType<typeof tempDir>;
let clone: string;

beforeAll(() => {
  dir = tempDir('vigil-clone-');
  clone = join(dir.path, 'vigil');
  const result = spawnSync('git', ['clone', '--quiet', '--no-hardlinks', REPO, clone], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`git clone failed: ${result.stderr}`);
});
afterAll(() => dir.remove());

describe('README quick start', () => {
  it('has exactly two commands: one to run Vigil, one to run the tests', () => {
    expect(quickStart()).toEqual(['npm start', 'npm test']);
    expect(readFileSync(join(REPO, '.ci/run'), 'utf8')).toMatch(/^exec npm test$/m);
  });

  it('`npm start` in a fresh clone runs a console and an enrolled agent, and prints the URL and sign-in', async () => {
    const port = await freePort();
    const child = spawn('npm', ['start'], {
      cwd: clone,
      env: { ...process.env, VIGIL_PORT: String(port), npm_config_prefer_offline: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    try {
      const [, url, username, password] = await waitUntil(
        () => /Dashboard:\s+(http:\/\/\S+?)\/?\s[\s\S]*Sign in:\s+username (\S+), password (\S+)/.exec(out),
        480_000,
        () => out.slice(-3000),
      );
      const login = await fetch(`${url}/api/v1/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username, password }),
      });
      expect(login.status).toBe(200);
      const { token } = await login.json();
      const devices = await waitUntil(async () => {
        const res = await fetch(`${url}/api/v1/devices`, { headers: { authorization: `Bearer ${token}` } });
        const body = await res.json();
        return body.devices.length === 1 && body.devices[0].online && body.devices[0].policyVersion === 1 ? body.devices : null;
      }, 20_000);
      expect(devices[0].status.agentVersion).toBeTruthy();
    } finally {
      // npm start's own process group: the launcher, console and agent.
      if (child.pid) process.kill(-child.pid, 'SIGINT');
      await new Promise((r) => child.once('exit', r));
    }
  }, 600_000);

  it('`npm test` in the same clone installs, builds and runs the test runner', () => {
    // The full suite is what is running now; in the clone we pass one file through to vitest.
    const result = spawnSync('npm', ['test', '--', 'test/unit/canonical-json.test.ts'], {
      cwd: clone,
      env: { ...process.env, npm_config_prefer_offline: 'true' },
      encoding: 'utf8',
      timeout: 600_000,
    });
    expect(result.status, result.stdout.slice(-2000) + result.stderr.slice(-2000)).toBe(0);
    // eslint-disable-next-line no-control-regex
    const plain = result.stdout.replace(/\u001b\[[0-9;]*m/g, '');
    // As many as the file holds, all passing: the runner ran them, whatever their number.
    expect(plain).toMatch(/Tests\s+[1-9]\d* passed/);
    expect(plain).not.toMatch(/[1-9]\d* failed/);
  }, 600_000);
});
