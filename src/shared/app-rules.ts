import { z } from 'zod';
import { POLICY_LIMITS } from './policy-limits.js';
import { IsoDateTime, UuidSchema } from './text.js';

/**
 * The application-control rule model carried in the signed policy (`applications`) and in
 * `vigil-exec-rules/1` files. Precedence (docs/application-control.md): built-in always-allow,
 * then hash rules, then signer rules, then path rules, then the default action — like Santa,
 * the more specific identity wins. Within one tier a live exception beats a regular rule, and
 * a block beats an allow (a conflicting pair must fail safe).
 */

export const Sha256HexSchema = z.string().regex(/^[0-9a-f]{64}$/, 'a SHA-256 in lowercase hex');
export const AppActionSchema = z.enum(['allow', 'block']);
export type AppAction = z.infer<typeof AppActionSchema>;
export const ExecModeSchema = z.enum(['monitor', 'enforce']);
export type ExecMode = z.infer<typeof ExecModeSchema>;

/** Device group names: short, safe to print and to use in URLs and CSV. */
export const GroupNameSchema = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'group names are 1-64 lower-case letters, digits, ".", "_" or "-"');

/** Which OS's path syntax a path rule is written in; only that OS's backend evaluates it. */
export const PathPlatformSchema = z.enum(['posix', 'windows']);

/**
 * POSIX path patterns: absolute; `**` matches any characters including `/`, `*` any characters
 * except `/`, `?` one character except `/`; everything else is literal and case-sensitive.
 * Brackets and braces are refused rather than guessed at, so a pattern means one thing.
 */
const PosixPattern = z
  .string()
  .min(2)
  .max(1024)
  .refine((p) => p.startsWith('/'), 'a POSIX path pattern must be absolute (start with /)')
  .refine((p) => !/[[\]{}\0]/.test(p), 'character classes ([...]) and braces ({...}) are not supported in path patterns');

const common = {
  /** Stable name for reports and for removing the rule later; optional. */
  id: z
    .string()
    .regex(/^[A-Za-z0-9._:{}-]{1,100}$/)
    .optional(),
  action: AppActionSchema,
  description: z.string().max(500).optional(),
  /** Applies only on devices in one of these groups (policy `groups`); absent = every device. */
  groups: z.array(GroupNameSchema).min(1).max(64).optional(),
};

export const HashRuleSchema = z.strictObject({ ...common, kind: z.literal('sha256'), sha256: Sha256HexSchema });
/**
 * AppLocker's file hash: an Authenticode (PE image) SHA-256, not the SHA-256 of the file's bytes.
 * Kept as its own kind so it is never compared with a plain SHA-256; only a Windows backend
 * can compute it, and other backends skip (and report) such rules.
 */
export const AuthenticodeRuleSchema = z.strictObject({
  ...common,
  kind: z.literal('authenticode-sha256'),
  hash: Sha256HexSchema,
  fileName: z.string().max(260).optional(),
});
/**
 * A code-signing identity. Windows: the Authenticode publisher (certificate subject, as AppLocker
 * writes it), optionally narrowed by product and binary name. macOS: the Team ID, optionally
 * narrowed by signing identifier. Every field given must match; `*` is not a wildcard here.
 */
export const SignerRuleSchema = z
  .strictObject({
    ...common,
    kind: z.literal('signer'),
    publisher: z.string().min(1).max(1024).optional(),
    product: z.string().min(1).max(1024).optional(),
    binaryName: z.string().min(1).max(1024).optional(),
    teamId: z
      .string()
      .regex(/^[A-Z0-9]{10}$/, 'a Team ID is 10 upper-case letters or digits')
      .optional(),
    signingId: z.string().min(1).max(255).optional(),
  })
  .refine((r) => r.publisher !== undefined || r.teamId !== undefined, 'a signer rule needs a publisher (Windows) or a teamId (macOS)')
  .refine((r) => !(r.publisher !== undefined && r.teamId !== undefined), 'a signer rule is either Windows (publisher) or macOS (teamId), not both');
export const PathRuleSchema = z
  .strictObject({ ...common, kind: z.literal('path'), platform: PathPlatformSchema.default('posix'), pattern: z.string().min(1).max(1024) })
  .superRefine((r, ctx) => {
    if (r.platform !== 'posix') return;
    const result = PosixPattern.safeParse(r.pattern);
    if (!result.success) ctx.addIssue({ code: 'custom', path: ['pattern'], message: result.error.issues[0]!.message });
  });

export const AppRuleSchema = z.discriminatedUnion('kind', [HashRuleSchema, AuthenticodeRuleSchema, SignerRuleSchema, PathRuleSchema]);
export type AppRule = z.infer<typeof AppRuleSchema>;
export type AppRuleInput = z.input<typeof AppRuleSchema>;

/** A rule that lapses on its own: the reason is required so every exception can be accounted for. */
export const AppExceptionSchema = z.strictObject({
  rule: AppRuleSchema,
  reason: z.string().min(3).max(500),
  expiresAt: IsoDateTime,
});
export type AppException = z.infer<typeof AppExceptionSchema>;

/** The most rules (and time-boxed exceptions) one policy holds: the schema's limits, and every importer's. */
export const MAX_APP_RULES = POLICY_LIMITS.rules;
export const MAX_APP_EXCEPTIONS = POLICY_LIMITS.exceptions;

/** The `applications` section of a policy document. */
export const ApplicationsSchema = z.strictObject({
  mode: ExecModeSchema.default('monitor'),
  defaultAction: AppActionSchema.default('allow'),
  rules: z
    .array(AppRuleSchema)
    .max(POLICY_LIMITS.rules, `a policy holds at most ${POLICY_LIMITS.rules.toLocaleString('en')} rules (the policy's rule limit)`)
    .default([]),
  exceptions: z
    .array(AppExceptionSchema)
    .max(POLICY_LIMITS.exceptions, `a policy holds at most ${POLICY_LIMITS.exceptions.toLocaleString('en')} exceptions (the policy's exception limit)`)
    .default([]),
  /**
   * Mounts the Linux gate marks (paths; each marks the mount holding it). Absent: the agent's
   * configured default. Programs on unmarked mounts are not checked.
   */
  linuxMarks: z.array(z.string().startsWith('/').max(1024)).max(64).optional(),
});
export type Applications = z.infer<typeof ApplicationsSchema>;

/** Device groups: group name -> device ids. Minimal on purpose: membership lives in the signed policy. */
export const DeviceGroupsSchema = z.record(GroupNameSchema, z.array(UuidSchema).max(100_000));
export type DeviceGroups = z.infer<typeof DeviceGroupsSchema>;

/** Who signed a program, as the OS reports it; null fields are unknown, never guessed. */
export interface SignerInfo {
  publisher: string | null;
  product: string | null;
  binaryName: string | null;
  teamId: string | null;
  signingId: string | null;
}
