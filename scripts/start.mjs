#!/usr/bin/env node
// `npm start`: installs and builds if needed, then runs a Vigil console and a local agent
// enrolled to it, and prints the dashboard URL and how to sign in. Ctrl+C stops both.
// State lives in .vigil/demo (override with VIGIL_DEMO_DIR); delete it to start afresh.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const prepared = spawnSync(process.execPath, [join(root, 'scripts/prepare.mjs')], { stdio: 'inherit' });
if (prepared.status !== 0) process.exit(prepared.status ?? 1);

const demoDir = process.env.VIGIL_DEMO_DIR ?? join(root, '.vigil', 'demo');
const host = process.env.VIGIL_HOST ?? '127.0.0.1';
mkdirSync(demoDir, { recursive: true, mode: 0o700 });

function portIsFree(port) {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}
async function choosePort() {
  if (process.env.VIGIL_PORT) return Number(process.env.VIGIL_PORT);
  if (await portIsFree(8080)) return 8080;
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, host, () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// The demo keeps its own credentials so a second `npm start` can print them again.
/** Like the console's randomSecret: a secret that never starts with `-`, so no parser takes it for an option. */
function commandLineSecret(bytes) {
  for (;;) {
    const secret = randomBytes(bytes).toString('base64url');
    if (!secret.startsWith('-')) return secret;
  }
}

const credentialsFile = join(demoDir, 'credentials.json');
let credentials;
if (existsSync(credentialsFile)) {
  credentials = JSON.parse(readFileSync(credentialsFile, 'utf8'));
} else {
  credentials = {
    adminUsername: 'admin',
    adminPassword: commandLineSecret(12),
    enrollToken: commandLineSecret(24),
    port: await choosePort(),
  };
  writeFileSync(credentialsFile, JSON.stringify(credentials, null, 2), { mode: 0o600 });
}
if (!(await portIsFree(credentials.port))) {
  console.error(`vigil: port ${credentials.port} on ${host} is in use; stop what uses it, or delete ${demoDir} to pick another port`);
  process.exit(1);
}

const cli = join(root, 'bin/vigil.js');
const children = [];
let stopping = false;
function start(name, args, env = {}) {
  const log = createWriteStream(join(demoDir, `${name}.log`), { flags: 'a' });
  const child = spawn(process.execPath, [cli, ...args], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  child.output = '';
  child.stdout.on('data', (d) => (child.output += d));
  child.on('exit', (code, signal) => {
    if (stopping) return;
    console.error(`vigil: the ${name} stopped unexpectedly (${signal ?? `exit ${code}`}); see ${join(demoDir, `${name}.log`)}`);
    shutdown(1);
  });
  children.push(child);
  return child;
}
function waitForOutput(child, pattern, timeoutMs = 60_000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}`)), timeoutMs);
    const check = () => {
      const m = pattern.exec(child.output);
      if (m) {
        clearTimeout(timer);
        child.stdout.off('data', check);
        resolve(m);
      }
    };
    child.stdout.on('data', check);
    check();
  });
}
function shutdown(code) {
  stopping = true;
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  setTimeout(() => process.exit(code), 500).unref();
}
process.on('SIGINT', () => shutdown(0));
process.on('SIGTERM', () => shutdown(0));

const consoleProc = start('console', ['console', '--data-dir', join(demoDir, 'console'), '--host', host, '--port', String(credentials.port)], {
  VIGIL_ADMIN_USERNAME: credentials.adminUsername,
  VIGIL_ADMIN_PASSWORD: credentials.adminPassword,
  VIGIL_ENROLL_TOKEN: credentials.enrollToken,
});
const [, url] = await waitForOutput(consoleProc, /listening on (\S+)/);
const agentProc = start('agent', ['agent', '--data-dir', join(demoDir, 'agent'), '--console', url, '--enroll-token', credentials.enrollToken]);
const [, deviceId] = await waitForOutput(agentProc, /running as device (\S+)/);

// First run: publish the example policy so the dashboard shows a device on a signed policy.
if (!credentials.policyPushed) {
  const pushed = spawnSync(process.execPath, [cli, 'policy', 'push', join(root, 'policies/secondary-default.json'), '--console', url], {
    env: { ...process.env, VIGIL_USERNAME: credentials.adminUsername, VIGIL_PASSWORD: credentials.adminPassword },
    encoding: 'utf8',
  });
  if (pushed.status === 0) {
    credentials.policyPushed = true;
    writeFileSync(credentialsFile, JSON.stringify(credentials, null, 2), { mode: 0o600 });
  } else {
    console.error(`vigil: could not push the example policy: ${pushed.stderr.trim()}`);
  }
}

console.log(`
Vigil is running.

  Dashboard:  ${url}/
  Sign in:    username ${credentials.adminUsername}, password ${credentials.adminPassword}

  A local agent is enrolled as device ${deviceId}.
  Logs and state: ${demoDir}
  Press Ctrl+C to stop.
`);
