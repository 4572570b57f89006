import { createHash } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { lstat, open, readdir } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';

/**
 * Walking and hashing a drive's files, shared by the scan station (which builds the manifest)
 * and the agent's flag verifier (which checks it). Only node:fs, so it runs on every OS.
 */
export interface TreeFile {
  /** Relative, '/'-separated. */
  path: string;
  size: number;
  mtimeMs: number;
  /** Change time: not in the flag, but lets the station notice a file rewritten mid-scan. */
  ctimeMs: number;
}

export interface TreeWalk {
  files: TreeFile[];
  /** Symlinks, devices, sockets, FIFOs: never followed, never flagged. */
  special: { path: string; kind: string }[];
  /** Directories or files that could not be read. */
  errors: { path: string; message: string }[];
  /** True when the walk stopped at maxFiles; the lists are then incomplete. */
  truncated: boolean;
}

export interface WalkOptions {
  /** Relative paths to leave out (the flag file itself). */
  exclude?: ReadonlySet<string>;
  maxFiles: number;
  /** Deeper directories are reported as errors rather than descended (paths are bounded anyway). */
  maxDepth?: number;
}

/** How many lstat calls are in flight at once: enough to keep libuv's pool busy. */
const STAT_CONCURRENCY = 32;

export async function walkTree(root: string, opts: WalkOptions): Promise<TreeWalk> {
  const out: TreeWalk = { files: [], special: [], errors: [], truncated: false };
  const maxDepth = opts.maxDepth ?? 128;
  const dirs: { rel: string; depth: number }[] = [{ rel: '', depth: 0 }];
  while (dirs.length > 0 && !out.truncated) {
    const { rel, depth } = dirs.pop()!;
    let names: string[];
    try {
      names = await readdir(rel ? join(root, rel) : root);
    } catch (error) {
      out.errors.push({ path: rel || '.', message: errorText(error) });
      continue;
    }
    for (let i = 0; i < names.length && !out.truncated; i += STAT_CONCURRENCY) {
      const batch = names.slice(i, i + STAT_CONCURRENCY).map((name) => (rel ? `${rel}/${name}` : name));
      const stats = await Promise.all(batch.map((p) => lstat(join(root, p), { bigint: false }).catch((e: unknown) => e as Error)));
      for (let j = 0; j < batch.length; j++) {
        const path = batch[j]!;
        const st = stats[j]!;
        if (opts.exclude?.has(path)) continue;
        if (st instanceof Error) out.errors.push({ path, message: errorText(st) });
        else if (st.isDirectory()) {
          if (depth + 1 > maxDepth) out.errors.push({ path, message: 'directory nesting too deep' });
          else dirs.push({ rel: path, depth: depth + 1 });
        } else if (st.isFile()) {
          if (out.files.length >= opts.maxFiles) out.truncated = true;
          else out.files.push({ path, size: st.size, mtimeMs: Math.trunc(st.mtimeMs), ctimeMs: Math.trunc(st.ctimeMs) });
        } else out.special.push({ path, kind: st.isSymbolicLink() ? 'symbolic link' : 'special file' });
      }
    }
  }
  return out;
}

/**
 * How drive files are opened: no following a symlink swapped in after the walk, and no blocking
 * on a FIFO swapped in (O_NONBLOCK changes nothing for regular files). Windows has neither flag.
 */
export const SAFE_OPEN_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);

/** Read buffer per concurrent hash: large reads keep syscall overhead well below hashing cost. */
const READ_CHUNK = 1024 * 1024;

/**
 * Streaming SHA-256 of one file. Returns the digest and the number of bytes actually read.
 * `inspect` sees the opened file's own stat (not the path's, which may have changed) and may
 * throw to refuse it before a byte is read.
 */
export async function hashFile(
  path: string,
  buffer: Buffer = Buffer.allocUnsafe(READ_CHUNK),
  inspect?: (stats: Stats) => void,
): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  const handle = await open(path, SAFE_OPEN_FLAGS);
  let bytes = 0;
  try {
    if (inspect) inspect(await handle.stat());
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      bytes += bytesRead;
    }
  } finally {
    await handle.close();
  }
  return { sha256: hash.digest('hex'), bytes };
}

export type HashResult = { sha256: string; bytes: number } | { error: string };

export interface HashOptions {
  /**
   * Threads that read and hash. 0 hashes on this thread with async reads (fine for a few files);
   * more moves the work to worker threads, which keeps this thread's event loop free and, unlike
   * hashing here, is not slowed by one promise round trip per read.
   */
  workers?: number;
}

/** Default worker count for whole-drive hashing: every core, at most four. */
export const defaultHashWorkers = () => Math.min(4, availableParallelism());

/**
 * Hashes many files. `onDone` is called as each file finishes, for progress and verdicts.
 */
export async function hashFiles(
  root: string,
  paths: readonly string[],
  onDone: (index: number, result: HashResult) => void,
  opts: HashOptions = {},
): Promise<void> {
  const workers = Math.min(opts.workers ?? 0, paths.length);
  if (workers <= 0) return hashHere(root, paths, onDone);
  return hashInWorkers(root, paths, onDone, workers);
}

function hashHere(root: string, paths: readonly string[], onDone: (index: number, result: HashResult) => void): Promise<void> {
  const queue = createHashQueue(root, paths, onDone);
  paths.forEach((_, index) => queue.push(index));
  return queue.drained();
}

/**
 * Hashes files as they are pushed, a few reads in flight, on this thread. The scan station
 * pushes each file as ClamAV finishes it, while its pages are still cached: a slow USB stick is
 * then read once rather than twice.
 */
export function createHashQueue(root: string, paths: readonly string[], onDone: (index: number, result: HashResult) => void, inFlight = 4) {
  const pending: number[] = [];
  let head = 0;
  let active = 0;
  let whenIdle: (() => void) | null = null;
  const buffers = Array.from({ length: inFlight }, () => Buffer.allocUnsafe(READ_CHUNK));
  const pump = () => {
    while (buffers.length > 0 && head < pending.length) {
      const index = pending[head++]!;
      const buffer = buffers.pop()!;
      active++;
      void hashFile(join(root, paths[index]!), buffer)
        .then(
          (result: HashResult) => result,
          (error: unknown): HashResult => ({ error: errorText(error) }),
        )
        .then((result) => {
          buffers.push(buffer);
          active--;
          onDone(index, result);
          pump();
        });
    }
    if (active === 0 && head === pending.length) whenIdle?.();
  };
  return {
    push(index: number) {
      pending.push(index);
      pump();
    },
    /** Resolves once everything pushed so far is hashed. */
    drained(): Promise<void> {
      return new Promise((resolve) => {
        whenIdle = resolve;
        pump();
      });
    },
  };
}

/**
 * The worker's code as a string (an eval worker), so it runs the same from the TypeScript
 * sources under vitest and from dist/. Synchronous reads are right inside a worker: it has
 * nothing else to do, and they avoid a thread-pool hop per read.
 */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { openSync, readSync, closeSync } = require('node:fs');
const buffer = Buffer.allocUnsafe(${READ_CHUNK});
parentPort.on('message', (batch) => {
  const results = batch.map(({ index, path }) => {
    let fd = -1;
    try {
      fd = openSync(path, ${SAFE_OPEN_FLAGS});
      const hash = createHash('sha256');
      let bytes = 0;
      for (let n; (n = readSync(fd, buffer, 0, buffer.length, null)) > 0; ) {
        hash.update(buffer.subarray(0, n));
        bytes += n;
      }
      return { index, sha256: hash.digest('hex'), bytes };
    } catch (e) {
      return { index, error: e && e.code ? e.code + ': ' + e.message.replace(/^[A-Z]+: /, '') : String(e && e.message || e) };
    } finally {
      if (fd >= 0) closeSync(fd);
    }
  });
  parentPort.postMessage(results);
});
`;

/** Files per message: enough to make messaging cheap, few enough to balance the workers. */
const BATCH = 16;

async function hashInWorkers(root: string, paths: readonly string[], onDone: (index: number, result: HashResult) => void, count: number): Promise<void> {
  let next = 0;
  const takeBatch = () => {
    const batch = [];
    for (; batch.length < BATCH && next < paths.length; next++) batch.push({ index: next, path: join(root, paths[next]!) });
    return batch;
  };
  const run = () =>
    new Promise<void>((resolve, reject) => {
      const worker = new Worker(WORKER_SOURCE, { eval: true });
      let finished = false;
      const feed = () => {
        const batch = takeBatch();
        if (batch.length === 0) {
          finished = true;
          return void worker.terminate().then(() => resolve(), reject);
        }
        worker.postMessage(batch);
      };
      worker.on('message', (results: ({ index: number } & HashResult)[]) => {
        try {
          for (const { index, ...result } of results) onDone(index, result as HashResult);
        } catch (error) {
          void worker.terminate();
          return reject(error as Error);
        }
        feed();
      });
      worker.once('error', reject);
      // A worker that dies without an error event (killed, out of memory) must not hang the caller.
      worker.once('exit', (code) => finished || reject(new Error(`hash worker exited (${code})`)));
      feed();
    });
  await Promise.all(Array.from({ length: count }, run));
}

export function errorText(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  return e?.code ? `${e.code}: ${e.message.replace(/^[A-Z]+: /, '')}` : String(e?.message ?? error);
}
