/** Size limits shared by both ends so that what one side may send the other will accept. */
export const LIMITS = {
  /** Largest WebSocket frame the console accepts from an agent (and vice versa). */
  wsMaxPayloadBytes: 256 * 1024,
  /** Largest HTTP request body the console reads. */
  httpMaxBodyBytes: 512 * 1024,
  /**
   * Largest policy document a push may send: the signed bundle's own limit (POLICY_LIMITS.bundleBytes),
   * so every document the console reads it can also sign and deliver (a 200,000-rule document fits).
   */
  policyPushMaxBytes: 64 * 1024 * 1024,
  eventsPerBatch: 200,
  /** A batch is also cut by its encoded size, well inside the frame limit. */
  eventBatchBytes: 192 * 1024,
  shortText: 256,
  longText: 4096,
  policyVersionMax: Number.MAX_SAFE_INTEGER,
} as const;
