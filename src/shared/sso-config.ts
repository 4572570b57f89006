import { z } from 'zod';
import { RoleSchema } from './roles.js';

/**
 * The console's single sign-on configuration file (`vigil console --sso-config FILE`): which
 * OpenID provider, which client, who may sign in and how a person gets a role. See
 * docs/sign-in.md for Microsoft Entra ID and Google Workspace.
 */
export const SsoConfigSchema = z.strictObject({
  /** Shown on the button: "Sign in with Microsoft". */
  label: z.string().min(1).max(40),
  /** The provider's issuer; its /.well-known/openid-configuration is read from here. */
  issuer: z.url(),
  clientId: z.string().min(1).max(256),
  /** Or VIGIL_SSO_CLIENT_SECRET in the console's environment (kept out of the file). */
  clientSecret: z.string().min(1).max(512).optional(),
  /** Registered at the provider: https://<console>/api/v1/sso/callback. */
  redirectUri: z.url(),
  scopes: z
    .array(z.string().regex(/^[\x21-\x7e]+$/))
    .min(1)
    .max(20)
    .default(['openid', 'email', 'profile']),
  /** Entra ID: tenant ids (the `tid` claim) allowed to sign in; empty = any (don't leave it empty with a multi-tenant app). */
  allowedTenants: z.array(z.string().min(1).max(100)).max(50).default([]),
  /** Google Workspace: domains (the `hd` claim, else a verified e-mail's domain) allowed to sign in. */
  allowedDomains: z.array(z.string().min(1).max(253)).max(50).default([]),
  /** Which claim lists the person's groups (Entra: `groups`, object ids). */
  groupsClaim: z.string().min(1).max(100).default('groups'),
  /** In order: the first of the person's groups listed here gives the role. */
  groupRoles: z
    .array(z.strictObject({ group: z.string().min(1).max(256), role: RoleSchema }))
    .max(200)
    .default([]),
  /** Named people, before any group: by subject, or by e-mail the provider says is verified. */
  userRoles: z
    .array(
      z.union([
        z.strictObject({ subject: z.string().min(1).max(256), role: RoleSchema }),
        z.strictObject({ email: z.string().min(3).max(320), role: RoleSchema }),
      ]),
    )
    .max(500)
    .default([]),
  /** Only for a provider on this machine (tests): allows an http:// issuer on a loopback address. */
  allowHttpLoopbackIssuer: z.boolean().default(false),
});
export type SsoConfig = z.infer<typeof SsoConfigSchema>;
