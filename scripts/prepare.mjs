#!/usr/bin/env node
// Makes a checkout runnable: installs npm dependencies when they are missing or older than
// the lock file, then builds. Used by `npm start`, `npm test` and the benchmarks so that a
// fresh clone needs nothing but Node and npm.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function run(args) {
  const result = spawnSync(npm, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  if (result.status !== 0) {
    process.stderr.write(`vigil: "npm ${args.join(' ')}" failed (exit ${result.status ?? result.signal})\n`);
    process.exit(1);
  }
}

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 19)) {
  process.stderr.write(`vigil: Node ${process.versions.node} is too old; Vigil needs Node 20.19 or newer\n`);
  process.exit(1);
}

const installed = join(root, 'node_modules', '.package-lock.json');
const lock = join(root, 'package-lock.json');
if (!existsSync(installed) || statSync(lock).mtimeMs > statSync(installed).mtimeMs) {
  process.stdout.write('Installing npm dependencies (once)...\n');
  run(['ci', '--no-audit', '--no-fund', '--loglevel=error']);
}
if (!process.argv.includes('--no-build')) run(['run', '--silent', 'build']);
