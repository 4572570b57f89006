import { z } from 'zod';

/**
 * Application control contracts. The rule model is deliberately minimal for now (allow by
 * SHA-256 + a default action + monitor/enforce); signer, path-pattern and imported AppLocker /
 * Santa rules will be added as further optional arrays beside `allowSha256`, so a file written
 * today stays valid.
 */
export const Sha256HexSchema = z.string().regex(/^[0-9a-f]{64}$/, 'a SHA-256 in lowercase hex');

export const ExecModeSchema = z.enum(['monitor', 'enforce']);
export type ExecMode = z.infer<typeof ExecModeSchema>;
export const ExecActionSchema = z.enum(['allow', 'deny']);
export type ExecAction = z.infer<typeof ExecActionSchema>;

/** An exec rules file (`vigil exec-gate --rules FILE`); later the application-control section of a policy. */
export const ExecRulesSchema = z.strictObject({
  format: z.literal('vigil-exec-rules/1'),
  /** monitor: everything runs, would-be blocks are reported. enforce: denied programs do not start. */
  mode: ExecModeSchema,
  /** What happens to a program no rule names. */
  defaultAction: ExecActionSchema,
  allowSha256: z.array(Sha256HexSchema).max(1_000_000).default([]),
});
export type ExecRules = z.infer<typeof ExecRulesSchema>;

/** Why the gate reached its verdict. */
export const ExecReasonSchema = z.enum(['builtin', 'hash-allow', 'default']);
export type ExecReason = z.infer<typeof ExecReasonSchema>;

/**
 * One JSON line the gate prints on stdout per happening (`vigil exec-gate`): read by tests,
 * the benchmark and, later, turned into outbox events by the agent.
 */
export const ExecGateRecordSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('ready'),
    pid: z.number().int(),
    marks: z.array(z.string()),
    mode: ExecModeSchema,
    onTimeout: ExecActionSchema,
    deadlineMs: z.number(),
  }),
  z.strictObject({ type: z.literal('rules'), mode: ExecModeSchema, defaultAction: ExecActionSchema, allowCount: z.number().int() }),
  z.strictObject({
    type: z.literal('exec'),
    id: z.number().int(),
    pid: z.number().int(),
    path: z.string(),
    sha256: Sha256HexSchema.nullable(),
    /** The policy's verdict. */
    verdict: ExecActionSchema,
    reason: ExecReasonSchema,
    mode: ExecModeSchema,
    /** monitor mode, verdict deny: the program ran but would have been blocked. */
    wouldBlock: z.boolean(),
    /** false when the native deadline had already answered (the `timeout` record says how). */
    answered: z.boolean(),
    cached: z.boolean(),
    decideMs: z.number(),
  }),
  z.strictObject({ type: z.literal('timeout'), id: z.number().int(), applied: ExecActionSchema }),
  z.strictObject({ type: z.literal('error'), message: z.string() }),
  z.strictObject({ type: z.literal('stats'), stats: z.record(z.string(), z.number()) }),
]);
export type ExecGateRecord = z.infer<typeof ExecGateRecordSchema>;
