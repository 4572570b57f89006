import { z } from 'zod';
import { AppExceptionSchema, AppRuleSchema, ExecModeSchema, Sha256HexSchema } from './app-rules.js';

/**
 * Application control contracts of the gate. The rule model itself (hash, signer, path rules,
 * exceptions) is in app-rules.ts and shared with the policy's `applications` section; a rules
 * file written for the first gate (allowSha256 only) stays valid.
 */
export { ExecModeSchema, Sha256HexSchema, type ExecMode } from './app-rules.js';
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
  /** Rules and exceptions of the policy model (app-rules.ts), for testing a policy's rules offline. */
  rules: z.array(AppRuleSchema).max(200_000).default([]),
  exceptions: z.array(AppExceptionSchema).max(10_000).default([]),
});
export type ExecRules = z.infer<typeof ExecRulesSchema>;

/** Why the gate reached its verdict. */
export const ExecReasonSchema = z.enum(['builtin', 'hash-allow', 'hash-block', 'signer-allow', 'signer-block', 'path-allow', 'path-block', 'default']);
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
    /** The deciding rule's id, when it has one. */
    ruleId: z.string().optional(),
    /** The deciding rule was a time-boxed exception. */
    exception: z.boolean().optional(),
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
