import { createHash } from 'node:crypto';
import { lstat, open, readdir } from 'node:fs/promises';
import { join } from 'node:path';

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

/** Read buffer per concurrent hash: large reads keep syscall overhead well below hashing cost. */
const READ_CHUNK = 1024 * 1024;

/** Streaming SHA-256 of one file. Returns the digest and the number of bytes actually read. */
export async function hashFile(path: string, buffer: Buffer = Buffer.allocUnsafe(READ_CHUNK)): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  const handle = await open(path, 'r');
  let bytes = 0;
  try {
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

/**
 * Hashes many files with a few reads in flight so disk reads overlap hashing (which runs on
 * the main thread). `onDone` is called as each file finishes, for progress and early exits.
 */
export async function hashFiles(
  root: string,
  paths: readonly string[],
  onDone: (index: number, result: HashResult) => void,
  concurrency = 4,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    const buffer = Buffer.allocUnsafe(READ_CHUNK);
    while (next < paths.length) {
      const index = next++;
      try {
        onDone(index, await hashFile(join(root, paths[index]!), buffer));
      } catch (error) {
        onDone(index, { error: errorText(error) });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, paths.length) }, worker));
}

export function errorText(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  return e?.code ? `${e.code}: ${e.message.replace(/^[A-Z]+: /, '')}` : String(e?.message ?? error);
}
