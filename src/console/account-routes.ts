import {
  DisableRequestSchema,
  PasswordResetRequestSchema,
  RoleChangeRequestSchema,
  SessionIdSchema,
  UserListResponseSchema,
  UserSessionsResponseSchema,
} from '../shared/accounts.js';
import { CreateUserRequestSchema, Username } from '../shared/api.js';
import type { AccountService } from './accounts.js';
import type { AuthService } from './auth.js';
import { readJson } from './http/body.js';
import { HttpError } from './http/http-error.js';
import type { Router } from './http/router.js';
import type { SecondFactorService } from './second-factor.js';
import type { ConsoleStore } from './store/store.js';

export interface AccountRouteDeps {
  store: ConsoleStore;
  auth: AuthService;
  accounts: AccountService;
  secondFactor: SecondFactorService;
}

const user = (raw: string) => {
  if (!Username.safeParse(raw).success) throw new HttpError(400, 'invalid-request', 'not a username');
  return raw;
};

/** Account management (admins): `users:manage` on every route. */
export function registerAccountRoutes(router: Router, deps: AccountRouteDeps): void {
  const { accounts, auth, store } = deps;
  const ok = (body: unknown, status = 200) => ({ status, body });
  router
    .add('GET', '/api/v1/users', 'users:manage', async () =>
      ok(UserListResponseSchema.parse({ users: await accounts.list(), mfa: await deps.secondFactor.policy() })),
    )
    .add('POST', '/api/v1/users', 'users:manage', async ({ req, principal }) => {
      const body = await readJson(req, CreateUserRequestSchema);
      await auth.createUser(body.username, body.password, body.role);
      await store.appendAudit({
        at: new Date().toISOString(),
        actor: principal!.username,
        action: 'user.created',
        target: body.username,
        detail: { role: body.role },
      });
      return ok({ username: body.username, role: body.role }, 201);
    })
    .add('POST', '/api/v1/users/:username/role', 'users:manage', async ({ req, params, principal }) => {
      const body = await readJson(req, RoleChangeRequestSchema);
      return ok({ changed: await accounts.setRole(principal!.username, user(params.username!), body.role) });
    })
    .add('POST', '/api/v1/users/:username/disabled', 'users:manage', async ({ req, params, principal }) => {
      const body = await readJson(req, DisableRequestSchema);
      return ok({ changed: await accounts.setDisabled(principal!.username, user(params.username!), body.disabled) });
    })
    .add('POST', '/api/v1/users/:username/password', 'users:manage', async ({ req, params, principal }) => {
      const body = await readJson(req, PasswordResetRequestSchema);
      await accounts.resetPassword(principal!.username, user(params.username!), body.password);
      return ok({ reset: true });
    })
    .add('POST', '/api/v1/users/:username/second-factor/reset', 'users:manage', async ({ params, principal }) => {
      await accounts.resetSecondFactor(principal!.username, user(params.username!));
      return ok({ reset: true });
    })
    .add('GET', '/api/v1/users/:username/sessions', 'users:manage', async ({ params }) =>
      ok(UserSessionsResponseSchema.parse({ sessions: await accounts.sessions(user(params.username!)) })),
    )
    .add('POST', '/api/v1/users/:username/sessions/end', 'users:manage', async ({ params, principal }) =>
      ok({ ended: await accounts.endSessions(principal!.username, user(params.username!), null) }),
    )
    .add('POST', '/api/v1/users/:username/sessions/:id/end', 'users:manage', async ({ params, principal }) => {
      if (!SessionIdSchema.safeParse(params.id).success) throw new HttpError(400, 'invalid-request', 'not a session id');
      return ok({ ended: await accounts.endSessions(principal!.username, user(params.username!), params.id!) });
    });
}
