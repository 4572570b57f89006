import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PolicyStore } from '../../src/agent/policy-store.js';
import { generateEd25519KeyPair } from '../../src/shared/node/crypto.js';
import { checkPolicyBundle, policyDigest, signPolicyBundle } from '../../src/shared/node/policy-verify.js';
import { canonicalJson } from '../../src/shared/canonical-json.js';
import { canonicalPayload } from '../../src/shared/policies/delta.js';
import { consoleKey, hashRules, NOW, payloadWith, signed } from '../helpers/policy-bundles.js';
import { tempDirsPerTest } from '../helpers/processes.js';

const key = generateEd25519KeyPair();
const tempPath = tempDirsPerTest();
const file = () => tempPath('policy.json');
const bundle = (version: number, expiresAt = new Date(Date.now() + 86400_000).toISOString()) =>
  signPolicyBundle(
    {
      kind: 'vigil.policy-bundle',
      version,
      issuedAt: new Date().toISOString(),
      expiresAt,
      policy: { format: 'vigil-policy/1', name: `v${version}`, agent: { heartbeatSeconds: 30, statusSeconds: 60 } },
    },
    key.privateKeyPem,
    key.publicKey,
  );

describe('PolicyStore', () => {
  it('persists the last good bundle and enforces it again after a restart', () => {
    const path = file();
    const store = new PolicyStore(path, key.publicKey);
    expect(store.offer(bundle(3)).outcome).toBe('applied');
    expect(store.offer(bundle(3)).outcome).toBe('unchanged');
    const reloaded = new PolicyStore(path, key.publicKey);
    expect(reloaded.version).toBe(3);
    expect(reloaded.offer(bundle(2))).toMatchObject({ outcome: 'rejected', rejection: { reason: 'rollback' } });
    expect(reloaded.version).toBe(3);
  });

  it('keeps the held bundle when a candidate is rejected, and leaves the file untouched', () => {
    const path = file();
    const store = new PolicyStore(path, key.publicKey);
    store.offer(bundle(3));
    const before = readFileSync(path, 'utf8');
    const tampered = bundle(4);
    tampered.payload.policy.name = 'tampered';
    expect(store.offer(tampered)).toMatchObject({ outcome: 'rejected', rejection: { reason: 'bad-signature' } });
    expect(store.offer(bundle(5, new Date(Date.now() - 1000).toISOString()))).toMatchObject({ outcome: 'rejected', rejection: { reason: 'expired' } });
    expect(store.version).toBe(3);
    expect(readFileSync(path, 'utf8')).toBe(before);
  });

  it('refuses a stored file that was edited on disk and reports why', () => {
    const path = file();
    new PolicyStore(path, key.publicKey).offer(bundle(3));
    writeFileSync(path, readFileSync(path, 'utf8').replace('"v3"', '"edited"'));
    const reloaded = new PolicyStore(path, key.publicKey);
    expect(reloaded.version).toBeNull();
    expect(reloaded.loadProblem).toMatch(/bad-signature/);
    writeFileSync(path, '{ truncated');
    expect(new PolicyStore(path, key.publicKey).loadProblem).toMatch(/unreadable/);
  });
});

describe('PolicyStore with a large policy', () => {
  it('writes a checked policy from the signed text it checked, byte for byte its canonical JSON, and reads it back', () => {
    const held = signed(canonicalPayload(payloadWith(4, hashRules(2000))));
    const trust = { trustedKey: consoleKey.publicKey, heldVersion: null, now: NOW };
    const check = checkPolicyBundle(JSON.parse(JSON.stringify({ payload: held.payload, signature: held.signature })), trust);
    if (!check.ok) throw new Error(check.detail);
    const path = file();
    const store = new PolicyStore(path, consoleKey.publicKey);
    expect(store.offer(check.bundle, NOW).outcome).toBe('applied');
    expect(readFileSync(path, 'utf8')).toBe(canonicalJson({ payload: held.payload, signature: held.signature }));
    const reloaded = new PolicyStore(path, consoleKey.publicKey);
    expect(reloaded.loadProblem).toBeNull();
    expect(policyDigest(reloaded.bundle!.payload)).toBe(held.digest);
  });

  it('a checked bundle offered again is checked for times and rollback, not trusted blindly', () => {
    const trust = { trustedKey: consoleKey.publicKey, heldVersion: null, now: NOW };
    const fromWire = (version: number) => {
      const { payload, signature } = signed(canonicalPayload(payloadWith(version, hashRules(10))));
      return checkPolicyBundle(JSON.parse(JSON.stringify({ payload, signature })), trust);
    };
    const older = fromWire(2);
    const newer = fromWire(3);
    if (!older.ok || !newer.ok) throw new Error('setup');
    const store = new PolicyStore(file(), consoleKey.publicKey);
    expect(store.offer(newer.bundle, NOW).outcome).toBe('applied');
    expect(store.offer(older.bundle, NOW)).toMatchObject({ outcome: 'rejected', rejection: { reason: 'rollback' } });
    expect(store.offer(newer.bundle, new Date('2099-01-01T00:00:00Z'))).toMatchObject({ outcome: 'rejected', rejection: { reason: 'expired' } });
  });
});
