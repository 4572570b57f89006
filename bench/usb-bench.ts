import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { verifyDriveFlag, type VerifyLevel } from '../src/agent/usb/verify-flag.js';
import { publicKeyFromPrivatePem } from '../src/shared/node/crypto.js';
import { benchArgs, round } from './args.js';
import { measureBlockMs } from './usb-block.js';

/**
 * `npm run bench:usb [-- --files 10000 --mb 1000]` (as root: it makes a loop-mounted ext4 drive)
 * Fills a drive with N files totalling M MB of random data, then measures: the raw SHA-256 read
 * rate over the tree (one thread, 1 MiB reads) and `sha256sum` for reference; `vigil scan`
 * against a plain `clamscan` of the same tree with the same small custom database; and flag
 * verification, fast (warm and right after a remount) and strict; and how long an unscanned
 * drive stays mounted before the USB gate unmounts it (blockMs, median of 10 plugs; blockMaxMs).
 * Last line: one JSON object.
 */
const args = benchArgs({ files: { default: '10000' }, mb: { default: '1000' } });
const fileCount = Number(args.files);
const totalBytes = Number(args.mb) * 1_000_000;
const dist = fileURLToPath(new URL('..', import.meta.url));
const cli = join(dist, 'src/cli/main.js');
const log = (message: string) => process.stderr.write(`[bench:usb] ${message}\n`);
const sh = (cmd: string, a: string[]) => execFileSync(cmd, a, { encoding: 'utf8' }).trim();

if (process.getuid?.() !== 0) {
  process.stderr.write('bench:usb needs root (it creates and mounts a loop device)\n');
  process.exit(1);
}

const work = mkdtempSync(join(tmpdir(), 'vigil-usb-bench-'));
const image = join(work, 'drive.img');
const mount = join(work, 'mnt');
let device: string | null = null;

function cleanup(): void {
  spawnSync('umount', [mount]);
  if (device) spawnSync('losetup', ['-d', device]);
  rmSync(work, { recursive: true, force: true });
}
process.once('SIGINT', () => (cleanup(), process.exit(130)));

try {
  // Direct I/O on the loop device: after a remount, reads really come from the image file.
  mkdirSync(mount);
  sh('truncate', ['-s', `${Math.ceil((totalBytes * 1.25) / 1e6) + 256}M`, image]);
  sh('mkfs.ext4', ['-q', '-F', '-O', '^has_journal', '-E', 'lazy_itable_init=0', image]);
  device = sh('losetup', ['--find', '--show', '--direct-io=on', image]);
  sh('mount', [device, mount]);
  log(`drive ${device} at ${mount}; writing ${fileCount} files, ${args.mb} MB`);
  fill(mount);
  sh('sync', []);

  const db = join(work, 'db');
  mkdirSync(db);
  writeFileSync(join(db, 'bench.ndb'), `Vigil.Bench.Pattern:0:*:${Buffer.from('VIGIL-BENCH-NEVER-PRESENT').toString('hex')}\n`);

  const raw = best(2, rawSha256);
  log(`raw SHA-256 (node, 1 thread): ${round(raw.mbps)} MB/s`);
  const sum = timed(() => spawnSync('sh', ['-c', 'find . -type f -print0 | xargs -0 sha256sum > /dev/null'], { cwd: mount }));
  const sumMBps = totalBytes / 1e6 / (sum / 1000);
  log(`sha256sum: ${round(sumMBps)} MB/s`);

  const clamArgs = [`--database=${db}`, '--max-filesize=2047M', '--max-scansize=2047M', '--alert-exceeds-max=yes', '-r', '-i', '--no-summary', mount];
  const keyPath = join(work, 'station-key.pem');
  const stationArgs = [cli, 'scan', mount, '--station-key', keyPath, '--database', db, '--station-id', 'bench'];
  spawnSync(process.execPath, stationArgs, { stdio: 'ignore' }); // creates the key, warms the cache
  const clamRuns: number[] = [];
  const stationRuns: number[] = [];
  for (let i = 0; i < 3; i++) {
    clamRuns.push(timed(() => check(spawnSync('clamscan', clamArgs), [0])));
    stationRuns.push(timed(() => check(spawnSync(process.execPath, stationArgs), [0])));
  }
  const clamscanMs = median(clamRuns);
  const stationMs = median(stationRuns);
  log(`clamscan ${clamRuns.join('/')} ms, vigil scan ${stationRuns.join('/')} ms`);

  const publicKey = publicKeyFromPrivatePem(readFileSync(keyPath, 'utf8'));
  const fsUuid = sh('blkid', ['-o', 'value', '-s', 'UUID', device]);
  const verify = async (level: VerifyLevel) => {
    const started = performance.now();
    const v = await verifyDriveFlag(mount, { trust: { stations: [{ publicKey }], revokedKeyIds: [] }, volume: { fsUuid, usbSerial: null }, level });
    if (!v.ok) throw new Error(`verification failed: ${v.reason} ${v.detail}`);
    return performance.now() - started;
  };
  const fastWarm = Math.min(await verify('fast'), await verify('fast'), await verify('fast'));
  sh('umount', [mount]);
  sh('mount', [device, mount]);
  const fastCold = await verify('fast');
  const strictRuns = [await verify('strict'), await verify('strict'), await verify('strict')];
  const strict = Math.min(...strictRuns);
  log(`strict runs ${strictRuns.map((ms) => round(ms, 0)).join('/')} ms (the first after the remount reads from the image)`);
  const strictMBps = totalBytes / 1e6 / (strict / 1000);
  log(`fast ${round(fastWarm)} ms warm, ${round(fastCold)} ms after remount; strict ${round(strict)} ms (${round(strictMBps)} MB/s)`);
  const block = await measureBlockMs(work);
  log(`unscanned drive blocked after ${block.runs.map((ms) => round(ms, 0)).join('/')} ms (mount start to unmounted)`);

  console.log(
    JSON.stringify({
      bench: 'usb',
      files: fileCount,
      mb: Number(args.mb),
      fastVerifyMs: round(fastWarm, 1),
      fastVerifyRemountedMs: round(fastCold, 1),
      strictVerifyMs: round(strict, 1),
      strictMBps: round(strictMBps, 1),
      rawShaMBps: round(raw.mbps, 1),
      sha256sumMBps: round(sumMBps, 1),
      strictVsRawSha: round(strictMBps / raw.mbps, 3),
      clamscanMs: round(clamscanMs, 0),
      stationMs: round(stationMs, 0),
      stationOverheadRatio: round(stationMs / clamscanMs - 1, 3),
      blockMs: round(block.medianMs, 0),
      blockMaxMs: round(block.maxMs, 0),
      node: process.versions.node,
    }),
  );
} finally {
  cleanup();
}

/** N files in 100 directories; sizes vary (many small, a few large) and add up to the total. */
function fill(root: string): void {
  const weights = Array.from({ length: fileCount }, (_, i) => (i % 100 === 0 ? 60 : 1 + ((i * 7919) % 13) / 13));
  const sum = weights.reduce((a, b) => a + b, 0);
  const buffer = Buffer.allocUnsafe(4 * 1024 * 1024);
  let written = 0;
  for (let i = 0; i < fileCount; i++) {
    const dir = join(root, `dir-${String(i % 100).padStart(3, '0')}`);
    if (i < 100) mkdirSync(dir);
    const size = i === fileCount - 1 ? totalBytes - written : Math.floor((weights[i]! / sum) * totalBytes);
    const fd = openSync(join(dir, `file-${i}.bin`), 'w');
    // Distinct random content, so ClamAV's cache of clean files cannot skip repeats.
    for (let left = size; left > 0;) {
      const n = Math.min(left, buffer.length);
      randomFillSync(buffer, 0, n);
      for (let off = 0; off < n;) off += writeSync(fd, buffer, off, n - off);
      left -= n;
    }
    closeSync(fd);
    written += size;
  }
}

/** The machine's plain rate: read every file in 1 MiB chunks and hash it, one file at a time. */
function rawSha256(): { ms: number; mbps: number } {
  const files = sh('find', [mount, '-type', 'f', '-name', '*.bin']).split('\n');
  const buffer = Buffer.allocUnsafe(1024 * 1024);
  const started = performance.now();
  let bytes = 0;
  for (const file of files) {
    const hash = createHash('sha256');
    const fd = openSync(file, 'r');
    for (let n; (n = readSync(fd, buffer, 0, buffer.length, null)) > 0;) {
      hash.update(buffer.subarray(0, n));
      bytes += n;
    }
    closeSync(fd);
    hash.digest();
  }
  const ms = performance.now() - started;
  return { ms, mbps: bytes / 1e6 / (ms / 1000) };
}

function best(runs: number, fn: () => { ms: number; mbps: number }) {
  let top = fn();
  for (let i = 1; i < runs; i++) {
    const r = fn();
    if (r.ms < top.ms) top = r;
  }
  return top;
}

function timed(fn: () => unknown): number {
  const started = performance.now();
  fn();
  return performance.now() - started;
}

function check(r: ReturnType<typeof spawnSync>, okCodes: number[]) {
  if (!okCodes.includes(r.status ?? -1)) throw new Error(`command failed (${r.status}): ${String(r.stderr).slice(0, 300)}`);
  return r;
}

function median(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
}
