import { PolicyPublisher } from '../../src/console/policies/publisher.js';
import { generateEd25519KeyPair } from '../../src/shared/node/crypto.js';
import { signDigest } from '../../src/shared/node/signing.js';
import type { AppRule } from '../../src/shared/app-rules.js';
import { PolicyBundlePayloadSchema, type PolicyBundle, type PolicyBundlePayload } from '../../src/shared/policy.js';
import { policyDigest, signPolicyBundle } from '../../src/shared/node/policy-verify.js';
import { canonicalPayload } from '../../src/shared/policies/delta.js';
import { hex } from './policy-model.js';

/** Signed payloads as the console makes them: parsed (defaults filled), canonical, signed. */
export const consoleKey = generateEd25519KeyPair();
export const NOW = new Date('2026-12-02T12:00:00Z');

export function hashRules(count: number, from = 0): AppRule[] {
  return Array.from({ length: count }, (_, i) => ({ kind: 'sha256', sha256: hex(from + i), action: 'allow', id: `r${from + i}` }));
}

export function payloadWith(version: number, rules: AppRule[], extra: Partial<PolicyBundlePayload['policy']> = {}): PolicyBundlePayload {
  return canonicalPayload(
    PolicyBundlePayloadSchema.parse({
      kind: 'vigil.policy-bundle',
      version,
      issuedAt: '2026-12-02T11:00:00.000Z',
      expiresAt: '2027-01-02T11:00:00.000Z',
      policy: {
        format: 'vigil-policy/1',
        name: 'baseline + lab',
        session: { lockAfterIdleSeconds: 300 },
        aup: { variant: 'secondary' },
        applications: { mode: 'enforce', defaultAction: 'block', rules },
        ...extra,
      },
    }),
  );
}

export function signed(payload: PolicyBundlePayload, key = consoleKey): PolicyBundle & { digest: string } {
  return { ...signPolicyBundle(payload, key.privateKeyPem, key.publicKey), digest: policyDigest(payload) };
}

/** A console publisher signing with `key`, versions counting from 1. */
export function testPublisher(now: () => Date = () => new Date(), key = consoleKey): PolicyPublisher {
  let version = 0;
  return new PolicyPublisher({
    sign: (sha256) => signDigest('policy', sha256, key.privateKeyPem, key.publicKey),
    now,
    nextVersion: () => ++version,
    lifetimeMs: 30 * 86_400_000,
  });
}
