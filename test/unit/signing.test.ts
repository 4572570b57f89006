import { describe, expect, it } from 'vitest';
import { generateEd25519KeyPair, importPublicKey, keyId, verifyBytes } from '../../src/shared/node/crypto.js';
import { signPayload, verifyPayload } from '../../src/shared/node/signing.js';

describe('Ed25519 signing', () => {
  const pair = generateEd25519KeyPair();
  const other = generateEd25519KeyPair();

  it('verifies what it signed, for the same purpose only', () => {
    const sig = signPayload('policy', { a: 1 }, pair.privateKeyPem, pair.publicKey);
    expect(sig.keyId).toBe(keyId(pair.publicKey));
    expect(verifyPayload('policy', { a: 1 }, sig, pair.publicKey)).toBe(true);
    // The purpose prefix stops a signature made for one use being replayed for another.
    expect(verifyPayload('device-auth', { a: 1 }, sig, pair.publicKey)).toBe(false);
  });

  it('rejects changed content and other keys', () => {
    const sig = signPayload('policy', { a: 1 }, pair.privateKeyPem, pair.publicKey);
    expect(verifyPayload('policy', { a: 2 }, sig, pair.publicKey)).toBe(false);
    expect(verifyPayload('policy', { a: 1 }, sig, other.publicKey)).toBe(false);
    expect(verifyPayload('policy', { a: 1 }, { ...sig, keyId: keyId(other.publicKey) }, other.publicKey)).toBe(false);
  });

  it('treats malformed keys and signatures as failures, never exceptions', () => {
    const data = Buffer.from('x');
    expect(importPublicKey('not base64!')).toBeNull();
    expect(importPublicKey(Buffer.alloc(31).toString('base64'))).toBeNull();
    expect(verifyBytes('garbage', data, 'AAAA')).toBe(false);
    expect(verifyBytes(pair.publicKey, data, Buffer.alloc(64).toString('base64'))).toBe(false);
    expect(verifyBytes(pair.publicKey, data, 'short')).toBe(false);
  });
});
