#!/usr/bin/env node
// Makes a checkout runnable: installs npm dependencies when they are missing or older than
// the lock file, then builds. Used by `npm start`, `npm test` and the benchmarks so that a
// fresh clone needs nothing but Node and npm.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findNodeGyp, nodeHeadersDir } from './node-gyp.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
// Native addons built below (buildNativeAddons).
const ADDONS = [
  { name: 'fanotify', output: 'vigil_fanotify.node', required: 'VIGIL_REQUIRE_FANOTIFY', without: 'the Linux exec gate will be unavailable' },
  {
    name: 'procwatch',
    output: 'vigil_procwatch.node',
    required: 'VIGIL_REQUIRE_FANOTIFY',
    without: 'the Linux fallback exec watcher will poll /proc instead of using the proc connector',
  },
  {
    name: 'peercred',
    output: 'vigil_peercred.node',
    platforms: ['linux', 'darwin', 'win32'],
    required: 'VIGIL_REQUIRE_PEERCRED',
    without: 'the service will refuse tray connections (no peer credentials)',
  },
];

function run(args) {
  // npm.cmd is a batch file, which Node (since 20.12.2) starts only through a shell.
  const result = spawnSync(npm, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], shell: process.platform === 'win32' });
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
if (!process.argv.includes('--no-build')) {
  run(['run', '--silent', 'build']);
  buildNativeAddons();
}

/**
 * The Linux native addons, built from source with the node-gyp that ships inside npm, so
 * nothing is downloaded: the headers come from the Node installation itself when it has them
 * (include/node next to bin/node), or from npm's nodedir setting. Skipped on other platforms
 * (except peercred, which macOS and Windows need too),
 * and each one when its build is newer than its sources.
 * - native/fanotify: the exec gate (VIGIL_REQUIRE_FANOTIFY=1 makes a failed build an error).
 * - native/peercred: SO_PEERCRED for the tray's local socket. Without it the service refuses
 *   tray connections (it cannot tell who is connecting), so VIGIL_REQUIRE_PEERCRED=1 (set by
 *   scripts/test.sh and release builds) makes a failed build an error.
 * - native/procwatch: the fallback exec watcher's proc connector and pid-safe kill.
 */

function buildNativeAddons() {
  // peercred also has a macOS half (getpeereid) and a Windows half (the tray's named pipe).
  for (const addon of ADDONS) if ((addon.platforms ?? ['linux']).includes(process.platform)) buildAddon(addon);
}

function buildAddon({ name, output: file, required, without }) {
  const dir = join(root, 'native', name);
  const output = join(dir, 'build', 'Release', file);
  const sources = [join(dir, 'binding.gyp'), ...readdirSync(join(dir, 'src')).map((f) => join(dir, 'src', f))];
  if (existsSync(output) && sources.every((f) => statSync(f).mtimeMs <= statSync(output).mtimeMs)) return;
  const unavailable = (why) => addonUnavailable(why, required, without);
  const gyp = findNodeGyp();
  if (!gyp) return unavailable('cannot find node-gyp (it ships with npm)');
  const args = [gyp, 'rebuild', '-C', dir, '--loglevel=warn'];
  const headers = nodeHeadersDir();
  if (!process.env.npm_config_nodedir && headers) args.push(`--nodedir=${headers}`);
  process.stdout.write(`Building the ${name} addon (native/${name})...\n`);
  const result = spawnSync(process.execPath, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  if (result.status !== 0) unavailable(`building native/${name} failed (exit ${result.status ?? result.signal}); it needs python3, make and g++`);
}

/**
 * The console and the rest of the agent work without the addons, so a machine without a
 * compiler still starts; only what needs the addon is missing (its tests then say they
 * skipped). The addon's VIGIL_REQUIRE_* variable makes it an error, for builds that must ship it.
 */
function addonUnavailable(why, required, without) {
  if (process.env[required] === '1') {
    process.stderr.write(`vigil: ${why}\n`);
    process.exit(1);
  }
  process.stderr.write(`vigil: warning: ${why}; ${without}\n`);
}
