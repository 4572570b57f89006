import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/shared/canonical-json.js';
import { generateEd25519KeyPair, importPublicKey, keyId, sha256Hex, verifyBytes } from '../../src/shared/node/crypto.js';
import { signDigest, signingInput, signPayload, verifyPayload, verifySigningInput } from '../../src/shared/node/signing.js';

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

  it('signs by digest (ed25519-sha256): verified over the same input, and never taken as the other kind', () => {
    const payload = { rules: ['a', 'b'], version: 3 };
    const digest = sha256Hex(canonicalJson(payload));
    const sig = signDigest('policy', digest, pair.privateKeyPem, pair.publicKey);
    expect(sig.alg).toBe('ed25519-sha256');
    expect(verifyPayload('policy', payload, sig, pair.publicKey)).toBe(true);
    // The caller's digest spares a second hash, and must be the input's.
    expect(verifySigningInput('policy', signingInput('policy', payload), sig, pair.publicKey, digest)).toBe(true);
    expect(verifySigningInput('policy', signingInput('policy', payload), sig, pair.publicKey, sha256Hex('other'))).toBe(false);
    expect(verifyPayload('policy', { ...payload, version: 4 }, sig, pair.publicKey)).toBe(false);
    expect(verifyPayload('command', payload, sig, pair.publicKey)).toBe(false);
    expect(verifyPayload('policy', payload, sig, other.publicKey)).toBe(false);
    // Relabelled, neither kind verifies as the other.
    expect(verifyPayload('policy', payload, { ...sig, alg: 'ed25519' }, pair.publicKey)).toBe(false);
    const whole = signPayload('policy', payload, pair.privateKeyPem, pair.publicKey);
    expect(verifyPayload('policy', payload, whole, pair.publicKey)).toBe(true);
    expect(verifyPayload('policy', payload, { ...whole, alg: 'ed25519-sha256' }, pair.publicKey)).toBe(false);
  });
});
