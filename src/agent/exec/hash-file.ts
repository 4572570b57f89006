import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import type { PendingExec } from './evaluator.js';

/**
 * SHA-256 of the file `path` names, only if it is the file described by `exec` (same device,
 * inode, size and ctime before and after reading); null otherwise. Used by the gate (through
 * the event's fd) and by the fallback watchers (/proc/PID/exe, or the path Windows/macOS report).
 */
export async function hashFileAt(path: string, exec: PendingExec): Promise<string | null> {
  const file = await open(path, 'r');
  try {
    const before = await file.stat({ bigint: true });
    if (before.dev !== exec.dev || before.ino !== exec.ino || Number(before.size) !== exec.size) return null;
    // The hash must describe the state the kernel reported, not a later one.
    if (before.ctimeNs !== BigInt(exec.ctimeSec) * 1_000_000_000n + BigInt(exec.ctimeNsec)) return null;
    const hash = createHash('sha256');
    const buffer = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const { bytesRead } = await file.read(buffer, 0, buffer.length, null);
      if (!bytesRead) break;
      hash.update(buffer.subarray(0, bytesRead));
    }
    const after = await file.stat({ bigint: true });
    if (after.size !== before.size || after.ctimeNs !== before.ctimeNs) return null;
    return hash.digest('hex');
  } finally {
    await file.close();
  }
}

/** (dev, ino, size, ctime) of the file at `path` now, as the watchers of Windows and macOS need it; null if it cannot be read. */
export function fileIdentity(path: string): Pick<PendingExec, 'dev' | 'ino' | 'size' | 'ctimeSec' | 'ctimeNsec'> | null {
  try {
    const st = statSync(path, { bigint: true });
    return { dev: st.dev, ino: st.ino, size: Number(st.size), ctimeSec: Number(st.ctimeNs / 1_000_000_000n), ctimeNsec: Number(st.ctimeNs % 1_000_000_000n) };
  } catch {
    return null;
  }
}
