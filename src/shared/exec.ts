import { z } from 'zod';
import { AppExceptionSchema, AppRuleSchema, ExecModeSchema, MAX_APP_EXCEPTIONS, MAX_APP_RULES, Sha256HexSchema } from './app-rules.js';

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
  rules: z.array(AppRuleSchema).max(MAX_APP_RULES).default([]),
  exceptions: z.array(AppExceptionSchema).max(MAX_APP_EXCEPTIONS).default([]),
});
export type ExecRules = z.infer<typeof ExecRulesSchema>;

/** Why the gate reached its verdict. */
export const ExecReasonSchema = z.enum(['builtin', 'hash-allow', 'hash-block', 'signer-allow', 'signer-block', 'path-allow', 'path-block', 'default']);
export type ExecReason = z.infer<typeof ExecReasonSchema>;

/** What the gate and the fallback watcher both print about one decided program. */
const EXEC_DECISION_FIELDS = {
  type: z.literal('exec'),
  pid: z.number().int(),
  path: z.string(),
  sha256: Sha256HexSchema.nullable(),
  /** The policy's verdict. */
  verdict: ExecActionSchema,
  reason: ExecReasonSchema,
  /** The deciding rule's id, when it has one. */
  ruleId: z.string().optional(),
  mode: ExecModeSchema,
  /** monitor mode, verdict deny: the program ran but would have been blocked. */
  wouldBlock: z.boolean(),
};

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
    ...EXEC_DECISION_FIELDS,
    id: z.number().int(),
    /** The deciding rule was a time-boxed exception. */
    exception: z.boolean().optional(),
    /** false when the native deadline had already answered (the `timeout` record says how). */
    answered: z.boolean(),
    cached: z.boolean(),
    decideMs: z.number(),
    /** Denied programs: who ran it, read before the answer (a refused process may be gone after). */
    user: z.string().nullable().optional(),
  }),
  z.strictObject({ type: z.literal('timeout'), id: z.number().int(), applied: ExecActionSchema }),
  z.strictObject({ type: z.literal('error'), message: z.string() }),
  z.strictObject({ type: z.literal('stats'), stats: z.record(z.string(), z.number()) }),
  /** A file system mounted below a marked path was marked too (at start, or when it appeared). */
  z.strictObject({ type: z.literal('mark'), path: z.string(), fsType: z.string(), kind: z.enum(['mount', 'filesystem']) }),
]);
export type ExecGateRecord = z.infer<typeof ExecGateRecordSchema>;

/** Which OS facility the fallback watcher uses (docs/application-control.md, "Fallback watcher"). */
export const WatcherKindSchema = z.enum(['proc-connector', 'proc-poll', 'wmi', 'ps-poll']);
export type WatcherKind = z.infer<typeof WatcherKindSchema>;

/** What the fallback watcher did about a denied program: ended it, or why not. */
export const WatchActionSchema = z.enum(['killed', 'gone', 'changed', 'denied', 'none']);
export type WatchAction = z.infer<typeof WatchActionSchema>;

/** One JSON line the fallback watcher prints per happening (`vigil exec-watch`). */
export const ExecWatchRecordSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('ready'), pid: z.number().int(), watcher: WatcherKindSchema, mode: ExecModeSchema, detail: z.string() }),
  z.strictObject({
    ...EXEC_DECISION_FIELDS,
    watcher: WatcherKindSchema,
    /** killed; gone (ended by itself first); changed (pid reused or another program now); denied (the OS refused); none (monitor). */
    action: WatchActionSchema,
    /** ms from the program's start to its termination; null when not killed. */
    livedMs: z.number().nonnegative().nullable(),
    user: z.string().nullable(),
    signer: z.string(),
    decideMs: z.number(),
  }),
  z.strictObject({ type: z.literal('error'), message: z.string() }),
  z.strictObject({ type: z.literal('stats'), stats: z.record(z.string(), z.number()) }),
]);
export type ExecWatchRecord = z.infer<typeof ExecWatchRecordSchema>;
