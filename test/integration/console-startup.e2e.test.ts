import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, freePort, kill, runCli, startProcess, stopAll, tempDir, waitUntil } from '../helpers/processes.js';

/** First start, restarts, TLS and the plain-HTTP warning, with real processes. */
let dir: ReturnType<typeof tempDir>;
beforeAll(() => {
  dir = tempDir();
});
afterAll(async () => {
  await stopAll();
  dir.remove();
});

describe('console start-up', () => {
  it('creates the admin account and an enrollment token on first start, shows them once, and they work', async () => {
    const dataDir = join(dir.path, 'first-run');
    const port = await freePort();
    const env = { VIGIL_ADMIN_PASSWORD: undefined, VIGIL_ENROLL_TOKEN: undefined };
    let consoleProc = startProcess([CLI, 'console', '--data-dir', dataDir, '--port', String(port)], env);
    const [, password] = (await consoleProc.waitFor(/admin password:\s+(\S+)/)) as unknown as [string, string];
    const [, token] = (await consoleProc.waitFor(/enrollment token:\s+(\S+)/)) as unknown as [string, string];
    const url = `http://127.0.0.1:${port}`;
    const login = await fetch(`${url}/api/v1/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password }),
    });
    expect(login.status).toBe(200);

    const agent = startProcess([CLI, 'agent', '--data-dir', join(dir.path, 'agent1'), '--console', url, '--enroll-token', token]);
    await agent.waitFor(/running as device/);
    await kill(agent);

    await kill(consoleProc);
    consoleProc = startProcess([CLI, 'console', '--data-dir', dataDir, '--port', String(port)], env);
    await consoleProc.waitFor(/listening on/);
    await new Promise((r) => setTimeout(r, 300));
    expect(consoleProc.stdout).not.toMatch(/First start|password|enrollment token/);
    await kill(consoleProc);
  });

  it('enrolls an agent whose token starts with "-", passed as "--enroll-token -…" and as "--enroll-token=-…"', async () => {
    const port = await freePort();
    const token = '-dash-first-token-0123456789';
    const consoleProc = startProcess([CLI, 'console', '--data-dir', join(dir.path, 'dash-console'), '--port', String(port)], {
      VIGIL_ADMIN_PASSWORD: 'a-long-admin-password',
      VIGIL_ENROLL_TOKEN: token,
    });
    await consoleProc.waitFor(/listening on/);
    const url = `http://127.0.0.1:${port}`;
    const spaced = startProcess([CLI, 'agent', '--data-dir', join(dir.path, 'dash-agent-1'), '--console', url, '--enroll-token', token]);
    await spaced.waitFor(/running as device/);
    await kill(spaced);
    const joined = startProcess([CLI, 'agent', '--data-dir', join(dir.path, 'dash-agent-2'), '--console', url, `--enroll-token=${token}`]);
    await joined.waitFor(/running as device/);
    await kill(joined);
    await kill(consoleProc);
  });

  it('warns clearly when serving plain HTTP on a non-loopback address, and not on loopback', async () => {
    const open = startProcess([CLI, 'console', '--data-dir', join(dir.path, 'open'), '--host', '0.0.0.0', '--port', '0']);
    await open.waitFor(/listening on/);
    await open.waitFor(/WARNING: serving plain HTTP on 0\.0\.0\.0/);
    await kill(open);
    const local = startProcess([CLI, 'console', '--data-dir', join(dir.path, 'local'), '--port', '0']);
    await local.waitFor(/listening on/);
    expect(local.stdout).not.toMatch(/WARNING/);
    await kill(local);
  });

  it('serves HTTPS and WSS with a certificate; agents verify it', async () => {
    const certDir = join(dir.path, 'tls');
    const made = spawnSync(
      'sh',
      [
        '-c',
        `mkdir -p ${certDir} && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
      -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1,DNS:localhost \
      -keyout ${certDir}/key.pem -out ${certDir}/cert.pem`,
      ],
      { encoding: 'utf8' },
    );
    expect(made.status, made.stderr).toBe(0);
    const port = await freePort();
    const consoleProc = startProcess(
      [
        CLI,
        'console',
        '--data-dir',
        join(dir.path, 'tls-console'),
        '--port',
        String(port),
        '--tls-cert',
        `${certDir}/cert.pem`,
        '--tls-key',
        `${certDir}/key.pem`,
      ],
      { VIGIL_ADMIN_PASSWORD: 'a-long-admin-password', VIGIL_ENROLL_TOKEN: 'tls-enroll-token-0123456789' },
    );
    const [, url] = (await consoleProc.waitFor(/listening on (https:\/\/\S+)/)) as unknown as [string, string];
    expect(url).toBe(`https://127.0.0.1:${port}`);

    // Without the certificate's CA the agent refuses to talk to the console.
    const untrusting = startProcess([
      CLI,
      'agent',
      '--data-dir',
      join(dir.path, 'untrusting'),
      '--console',
      url,
      '--enroll-token',
      'tls-enroll-token-0123456789',
    ]);
    await untrusting.waitFor(/cannot reach the console.*(self[- ]signed|certificate)/i, 15_000, 'stderr');
    await kill(untrusting);

    const trusted = { NODE_EXTRA_CA_CERTS: `${certDir}/cert.pem` };
    const agent = startProcess(
      [CLI, 'agent', '--data-dir', join(dir.path, 'tls-agent'), '--console', url, '--enroll-token', 'tls-enroll-token-0123456789'],
      trusted,
    );
    await agent.waitFor(/running as device/);
    await agent.waitFor(/connected to console.*wss:\/\//, 10_000, 'stderr');
    const listed = await waitUntil(async () => {
      const r = await runCli(['device', 'list', '--console', url], { ...trusted, VIGIL_USERNAME: 'admin', VIGIL_PASSWORD: 'a-long-admin-password' });
      return r.code === 0 && / online /.test(r.stdout) ? r : null;
    }, 15_000);
    expect(listed.stdout).toMatch(/online/);
  });
});
