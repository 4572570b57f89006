/**
 * Size limits of a policy, shared by the schemas, the console's push and merge checks, the
 * delivery code on both ends and the rule importers (AppLocker, Santa, CSV), so that anything
 * one part accepts every other part can carry. Browser-safe.
 */
export const POLICY_LIMITS = {
  /** Application-control rules in one policy document, and in one named policy. */
  rules: 200_000,
  /** Exceptions (expiring rules that beat regular rules of their tier) in one policy document. */
  exceptions: 10_000,
  /** Uncompressed canonical JSON of one signed bundle; the agent refuses to inflate more. */
  bundleBytes: 64 * 1024 * 1024,
  /** Rules one delta may add or remove; a bigger change travels as the full bundle. */
  deltaRules: 5_000,
  /**
   * Compressed bytes of a delta sent inside its `policy.available` notice rather than fetched: a
   * one-rule change reaches 10,000 devices without 10,000 HTTP requests, and the notice frame
   * stays far below the frame limit (base64 adds a third).
   */
  inlineDeltaBytes: 3_072,
  /** Device groups, named policies and assignments on one console. */
  groups: 1_000,
  policies: 1_000,
  assignments: 1_000,
  /** Membership rules of one group, and hostname pattern length. */
  membershipRules: 64,
  hostnamePattern: 253,
} as const;
