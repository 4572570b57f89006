import { z } from 'zod';
import { AppExceptionSchema, AppRuleSchema } from '../app-rules.js';
import { POLICY_LIMITS } from '../policy-limits.js';
import { SignatureSchema } from '../signed.js';

/**
 * Policy delivery at any size (browser-safe formats; docs/policies.md "Delivery").
 *
 * The WebSocket only says that a version exists (`policy.available`: version, digest, sizes); the
 * agent fetches the signed bundle over HTTPS with its device authentication, compressed, from a
 * URL naming the digest, so every device with the same effective policy fetches the same bytes
 * and one signature serves them all. When the agent holds a recent version, the console also
 * offers a delta from the digest it holds: rules removed (by position in the held document's
 * canonical order) and added, and the changed members of the rest; a small delta travels inside
 * the notice itself. The console's signature in the delta covers the whole resulting document; the agent applies the delta, checks the result's
 * digest and signature, and on any mismatch discards it and fetches the full bundle.
 */

export const DigestSchema = z.string().regex(/^[0-9a-f]{64}$/, 'a SHA-256 in lowercase hex');
export const BundleEncodingSchema = z.enum(['br', 'gzip']);
export type BundleEncoding = z.infer<typeof BundleEncodingSchema>;

/** HTTP paths the agent fetches from, both naming what they serve by digest (cacheable, immutable). */
export const POLICY_BUNDLE_PATH = '/api/v1/agent/policy/bundle';
export const POLICY_DELTA_PATH = '/api/v1/agent/policy/delta';
export const bundlePath = (digest: string) => `${POLICY_BUNDLE_PATH}/${digest}`;
export const deltaPath = (fromDigest: string, toDigest: string) => `${POLICY_DELTA_PATH}/${fromDigest}/${toDigest}`;

/**
 * What an agent lists in its hello's `capabilities` when it takes `policy.available` notices and
 * fetches bundles; to an agent without it the console sends the bundle in a `policy` frame, and
 * only when that frame fits the frame limit.
 */
export const POLICY_FETCH_CAPABILITY = 'policy-fetch';

/** Console -> agent over the WebSocket: small whatever the policy's size. */
export const PolicyAvailableMessageSchema = z.strictObject({
  v: z.literal(1),
  type: z.literal('policy.available'),
  version: z.number().int().positive(),
  /** SHA-256 of the canonical JSON of the signed payload (policyDigest). */
  digest: DigestSchema,
  /** Bytes of the canonical JSON, and of the compressed bundle as served. */
  /** Not bounded here: a notice of something too big is answered with a too-large report, not dropped as malformed. */
  size: z.number().int().positive(),
  compressed: z.strictObject({ encoding: BundleEncodingSchema, size: z.number().int().positive(), sha256: DigestSchema }),
  /** Offered when the console can make one from the digest the agent reported holding. */
  delta: z
    .strictObject({
      fromDigest: DigestSchema,
      size: z.number().int().positive(),
      sha256: DigestSchema,
      /** The compressed delta itself (base64) when it is small: the agent checks it as it would fetched bytes. */
      inline: z
        .base64()
        .max(Math.ceil(POLICY_LIMITS.inlineDeltaBytes / 3) * 4)
        .optional(),
    })
    .optional(),
});
export type PolicyAvailableMessage = z.infer<typeof PolicyAvailableMessageSchema>;

/** A change to one member of the document outside its rule lists: `value` absent = removed. */
export const MemberChangeSchema = z.strictObject({
  path: z.array(z.string().min(1).max(64)).min(1).max(3),
  value: z.unknown().optional(),
});
export type MemberChange = z.infer<typeof MemberChangeSchema>;

const ListChangeSchema = <T extends z.ZodType>(item: T) =>
  z.strictObject({
    /** Positions in the held document's canonical order, ascending. */
    remove: z.array(z.number().int().nonnegative()).max(POLICY_LIMITS.deltaRules),
    add: z.array(item).max(POLICY_LIMITS.deltaRules),
  });

export const PolicyDeltaSchema = z.strictObject({
  kind: z.literal('vigil.policy-delta'),
  fromDigest: DigestSchema,
  toDigest: DigestSchema,
  toVersion: z.number().int().positive(),
  members: z.array(MemberChangeSchema).max(256),
  rules: ListChangeSchema(AppRuleSchema),
  exceptions: ListChangeSchema(AppExceptionSchema),
  /** The console's signature over the whole resulting payload, exactly as in the full bundle. */
  signature: SignatureSchema,
});
export type PolicyDelta = z.infer<typeof PolicyDeltaSchema>;

/** Why an agent did not take a delivered policy: reported as an event, the link stays up. */
export const DELIVERY_ONLY_PROBLEMS = ['too-large', 'fetch-failed', 'compressed-digest-mismatch', 'digest-mismatch', 'delta-mismatch'] as const;
export const DeliveryProblemSchema = z.enum([...DELIVERY_ONLY_PROBLEMS, 'malformed']);
export type DeliveryProblem = z.infer<typeof DeliveryProblemSchema>;
