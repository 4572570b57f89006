import type { ExecFileIdentity } from './decision.js';

/**
 * File identity -> SHA-256, least recently used evicted. The identity (device, inode, size,
 * ctime, and the mount's unique id where known) changes whenever the content can have changed (a write, truncate, rename or chmod
 * updates ctime), so a hit means the hash is still right and costs a Map lookup, not a read.
 */
export class HashCache {
  private readonly map = new Map<string, string>();

  constructor(readonly capacity = 65_536) {}

  static key(id: ExecFileIdentity): string {
    return `${id.dev}:${id.ino}:${id.size}:${id.ctimeSec}.${id.ctimeNsec}@${id.mountId ?? ''}`;
  }

  get(id: ExecFileIdentity): string | undefined {
    const key = HashCache.key(id);
    const hash = this.map.get(key);
    if (hash !== undefined) {
      // Re-insert so Map order is recency order and the oldest entry is evicted first.
      this.map.delete(key);
      this.map.set(key, hash);
    }
    return hash;
  }

  set(id: ExecFileIdentity, sha256: string): void {
    const key = HashCache.key(id);
    this.map.delete(key);
    this.map.set(key, sha256);
    if (this.map.size > this.capacity) this.map.delete(this.map.keys().next().value!);
  }

  get size(): number {
    return this.map.size;
  }

  clear(): void {
    this.map.clear();
  }
}
