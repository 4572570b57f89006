import { z } from 'zod';
import { Password } from './api.js';
import { RoleSchema } from './roles.js';
import { IsoDateTime } from './text.js';

/**
 * Staff accounts (issue 14): what an admin sees and changes, second factors, and the single
 * sign-on handshake's public parts. Used by the console's routes, the CLI and the Users page.
 */

export const AccountSourceSchema = z.enum(['local', 'sso']);
export const SignInMethodSchema = z.enum(['password', 'password+totp', 'recovery-code', 'sso']);

/** A session as an admin sees it: never the token, nor its hash; an id that names it. */
export const SessionIdSchema = z.string().regex(/^[0-9a-f]{16}$/, 'a session id is 16 hexadecimal digits');
export const SessionSummarySchema = z.strictObject({
  id: SessionIdSchema,
  method: SignInMethodSchema,
  createdAt: IsoDateTime,
  lastUsedAt: IsoDateTime,
  expiresAt: IsoDateTime,
  /** Signed in, but may only enrol a second factor until they do. */
  restricted: z.boolean(),
});
export type SessionSummary = z.infer<typeof SessionSummarySchema>;

export const UserSummarySchema = z.strictObject({
  username: z.string(),
  role: RoleSchema,
  source: AccountSourceSchema,
  disabled: z.boolean(),
  createdAt: IsoDateTime,
  lastSignInAt: IsoDateTime.nullable(),
  secondFactor: z.enum(['none', 'totp']),
  /** Unused recovery codes left (0 without a second factor). */
  recoveryCodesLeft: z.number().int().min(0),
  /** The identity provider's e-mail for linked accounts, for people reading the list. */
  email: z.string().nullable(),
  sessions: z.number().int().min(0),
});
export type UserSummary = z.infer<typeof UserSummarySchema>;

/** Which roles must use a second factor on local accounts (SSO accounts: the school's provider decides). */
export const MfaPolicySchema = z.strictObject({ requiredRoles: z.array(RoleSchema).max(10) });
export type MfaPolicy = z.infer<typeof MfaPolicySchema>;

export const UserListResponseSchema = z.strictObject({ users: z.array(UserSummarySchema), mfa: MfaPolicySchema });
export const UserSessionsResponseSchema = z.strictObject({ sessions: z.array(SessionSummarySchema) });
export const RoleChangeRequestSchema = z.strictObject({ role: RoleSchema });
export const DisableRequestSchema = z.strictObject({ disabled: z.boolean() });
export const PasswordResetRequestSchema = z.strictObject({ password: Password });

/** A six-digit TOTP code, or a recovery code (xxxx-xxxx-xxxx, lower-case base32). */
export const TotpCodeSchema = z.string().regex(/^\d{6}$/, 'the code is the six digits your authenticator app shows');
export const RecoveryCodeSchema = z.string().regex(/^[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}$/, 'a recovery code looks like abcd-efgh-ijkl');
export const SecondFactorCodeSchema = z.union([TotpCodeSchema, RecoveryCodeSchema]);

export const TotpEnrolResponseSchema = z.strictObject({ secret: z.string(), uri: z.string() });
export const TotpConfirmRequestSchema = z.strictObject({ code: TotpCodeSchema });
export const RecoveryCodesResponseSchema = z.strictObject({ recoveryCodes: z.array(RecoveryCodeSchema) });

/** What the sign-in form asks before it shows a "Sign in with …" button. */
export const SsoInfoSchema = z.strictObject({ enabled: z.boolean(), label: z.string().nullable() });

/** Why a single sign-on was refused; the sign-in page words each one (never the provider's text). */
export const SsoRefusalSchema = z.enum(['state', 'provider', 'token', 'tenant', 'domain', 'no-role', 'disabled', 'unavailable']);
export type SsoRefusal = z.infer<typeof SsoRefusalSchema>;

/** The CLI's loopback sign-in: it proves it started the flow by the verifier behind its challenge. */
export const CliSsoRedeemRequestSchema = z.strictObject({
  code: z.string().regex(/^[A-Za-z0-9_-]{32,64}$/),
  verifier: z.string().regex(/^[A-Za-z0-9_-]{43,128}$/),
});
