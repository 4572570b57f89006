import { describe, expect, it } from 'vitest';
import { BoundedCache } from '../../src/shared/bounded-cache.js';
import { generateEd25519KeyPair, importPublicKey, keyId } from '../../src/shared/node/crypto.js';

describe('bounded cache', () => {
  it('makes each value once while it is held, and drops the least recently used past its capacity', () => {
    const made: string[] = [];
    const cache = new BoundedCache<string, string>(2);
    const get = (key: string) => cache.get(key, (k) => (made.push(k), k.toUpperCase()));
    expect(get('a')).toBe('A');
    expect(get('b')).toBe('B');
    expect(get('a')).toBe('A'); // a is now the most recent
    expect(get('c')).toBe('C'); // b goes
    expect(cache.size).toBe(2);
    expect(made).toEqual(['a', 'b', 'c']);
    get('a');
    get('b');
    expect(made).toEqual(['a', 'b', 'c', 'b']);
  });

  it('parsed public keys and key ids are the same answers as before, bad keys still refused', () => {
    const { publicKey } = generateEd25519KeyPair();
    const first = importPublicKey(publicKey);
    expect(first).not.toBeNull();
    expect(importPublicKey(publicKey)).toBe(first);
    expect(keyId(publicKey)).toBe(keyId(publicKey));
    expect(keyId(publicKey)).toMatch(/^[0-9a-f]{16}$/);
    expect(importPublicKey('not-a-key')).toBeNull();
    expect(importPublicKey(publicKey.slice(0, -4))).toBeNull();
  });
});
