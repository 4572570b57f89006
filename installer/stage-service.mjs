#!/usr/bin/env node
// Stages the agent service for packaging: electron-builder.yml ships build/service as
// resources/service. The service runs on plain Node, not on the Electron binary (whose runAsNode
// fuse is off), so the stage holds its own runtime: a copy of the Node that runs this script
// (in CI: the one actions/setup-node installed for the runner's OS and architecture), and the
// production node_modules installed by that same Node, so native addons match it.
// Run after `npm run build` (and on Linux after scripts/prepare.mjs built native/fanotify).
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'build', 'service');
const win = process.platform === 'win32';

if (!existsSync(join(root, 'dist', 'src', 'cli', 'main.js'))) {
  process.stderr.write('stage-service: build first (npm run build)\n');
  process.exit(1);
}
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

// Compiled code, without what only the repository needs (tests, benchmarks, earlier packages).
const skipped = ['packages', 'test', 'bench'].map((d) => join(root, 'dist', d));
cpSync(join(root, 'dist'), join(out, 'dist'), { recursive: true, filter: (src) => !skipped.some((s) => src === s || src.startsWith(s + sep)) });
cpSync(join(root, 'bin'), join(out, 'bin'), { recursive: true });
for (const file of ['package.json', 'package-lock.json']) copyFileSync(join(root, file), join(out, file));

// Native addons built by scripts/prepare.mjs (Linux: fanotify for the exec gate, and any other
// native/<name>), kept at the same relative path the service looks them up by.
if (process.platform === 'linux') {
  const addons = readdirSync(join(root, 'native'), { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => join('native', d.name, 'build', 'Release', `vigil_${d.name}.node`));
  const missing = addons.filter((addon) => !existsSync(join(root, addon)));
  if (missing.length) {
    process.stderr.write(`stage-service: ${missing.join(', ')} missing (node scripts/prepare.mjs builds them)\n`);
    process.exit(1);
  }
  for (const addon of addons) {
    mkdirSync(dirname(join(out, addon)), { recursive: true });
    copyFileSync(join(root, addon), join(out, addon));
  }
}

const npm = win ? 'npm.cmd' : 'npm';
const installed = spawnSync(npm, ['ci', '--omit=dev', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: out, stdio: 'inherit', shell: win });
if (installed.status !== 0) {
  process.stderr.write('stage-service: npm ci --omit=dev failed\n');
  process.exit(1);
}

const runtime = join(out, win ? 'node.exe' : 'node');
copyFileSync(process.execPath, runtime);
process.stdout.write(`staged the service in ${relative(root, out)} with Node ${process.version} (${process.platform}-${process.arch})\n`);
