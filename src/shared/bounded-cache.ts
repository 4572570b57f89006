/**
 * A map that keeps at most `capacity` entries, dropping the least recently used (browser-safe).
 * For values derived from their key alone (a parsed public key from its text), so a dropped entry
 * is only work done again, never a wrong answer.
 */
export class BoundedCache<K, V> {
  private readonly entries = new Map<K, V>();

  constructor(private readonly capacity: number) {}

  get(key: K, make: (key: K) => V): V {
    if (this.entries.has(key)) {
      const value = this.entries.get(key) as V;
      // Map keeps insertion order: moving a hit to the end keeps the oldest first in line to go.
      this.entries.delete(key);
      this.entries.set(key, value);
      return value;
    }
    const value = make(key);
    this.entries.set(key, value);
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as K);
    return value;
  }

  get size(): number {
    return this.entries.size;
  }
}
