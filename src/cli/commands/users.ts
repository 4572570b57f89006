import { UserListResponseSchema, UserSessionsResponseSchema } from '../../shared/accounts.js';
import { RoleSchema } from '../../shared/roles.js';
import { parse } from '../args.js';
import { ApiClient } from '../client.js';
import { usageError } from '../errors.js';
import { promptSecret } from '../prompt.js';

export const USER_HELP = `vigil user add <username> --role ROLE [--console URL]
  (the new user's password comes from VIGIL_NEW_PASSWORD or a prompt)
vigil user list [--json] [--console URL]
vigil user role <username> ROLE | disable <username> | enable <username> [--console URL]
vigil user reset-password <username> | reset-second-factor <username> [--console URL]
vigil user sessions <username> | end-sessions <username> [<session-id>] [--console URL]
  Account management (admins). Role changes, disabling and resets end the person's sessions.`;

const USAGE = 'usage: vigil user add|list|role|disable|enable|reset-password|reset-second-factor|sessions|end-sessions …';

/** `vigil user …`: the admin's account management, over the same API as the Users page. */
export async function runUser(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parse(rest, { console: { type: 'string' }, role: { type: 'string' }, json: { type: 'boolean' } }, 2);
  const [name, extra] = positionals;
  const path = (tail = '') => `/api/v1/users/${encodeURIComponent(name ?? '')}${tail}`;
  const needName = () => {
    if (!name) throw usageError(`usage: vigil user ${sub} <username>`);
  };
  const role = (raw: string | undefined) => {
    const parsed = RoleSchema.safeParse(raw);
    if (!parsed.success) throw usageError(`--role must be one of ${RoleSchema.options.join(', ')}`);
    return parsed.data;
  };
  switch (sub) {
    case 'add': {
      needName();
      const r = role(values.role);
      const password = process.env.VIGIL_NEW_PASSWORD ?? (await promptSecret(`Password for ${name}: `));
      await (await client(values.console)).call('POST', '/api/v1/users', { username: name, password, role: r });
      return void console.log(`created ${name} (${r})`);
    }
    case 'list': {
      const { users, mfa } = UserListResponseSchema.parse(await (await client(values.console)).call('GET', '/api/v1/users'));
      if (values.json) return void console.log(JSON.stringify({ users, mfa }, null, 2));
      for (const u of users) {
        const state = u.disabled ? 'DISABLED' : 'enabled ';
        const factor = u.source === 'sso' ? 'provider' : u.secondFactor === 'totp' ? `totp (${u.recoveryCodesLeft} codes)` : 'none';
        console.log(
          `${u.username.padEnd(28)} ${u.role.padEnd(17)} ${u.source.padEnd(5)} ${state} 2FA ${factor.padEnd(16)} last ${u.lastSignInAt ?? 'never'}  sessions ${u.sessions}`,
        );
      }
      return void console.log(`second factor required for: ${mfa.requiredRoles.join(', ') || 'no role'}`);
    }
    case 'role': {
      needName();
      const r = role(extra ?? values.role);
      await (await client(values.console)).call('POST', path('/role'), { role: r });
      return void console.log(`${name} is now ${r}; their sessions have ended`);
    }
    case 'disable':
    case 'enable':
      needName();
      await (await client(values.console)).call('POST', path('/disabled'), { disabled: sub === 'disable' });
      return void console.log(`${name} ${sub}d`);
    case 'reset-password': {
      needName();
      const password = process.env.VIGIL_NEW_PASSWORD ?? (await promptSecret(`New password for ${name}: `));
      await (await client(values.console)).call('POST', path('/password'), { password });
      return void console.log(`password of ${name} reset; their sessions have ended`);
    }
    case 'reset-second-factor':
      needName();
      await (await client(values.console)).call('POST', path('/second-factor/reset'), {});
      return void console.log(`second factor of ${name} removed; they set up a new one at their next sign-in`);
    case 'sessions': {
      needName();
      const { sessions } = UserSessionsResponseSchema.parse(await (await client(values.console)).call('GET', path('/sessions')));
      for (const s of sessions)
        console.log(`${s.id}  ${s.method.padEnd(14)} since ${s.createdAt}  last used ${s.lastUsedAt}${s.restricted ? '  (setting up 2FA)' : ''}`);
      return void (sessions.length === 0 && console.log(`${name} has no open sessions`));
    }
    case 'end-sessions': {
      needName();
      const { ended } = (await (
        await client(values.console)
      ).call('POST', path(extra ? `/sessions/${encodeURIComponent(extra)}/end` : '/sessions/end'), {})) as {
        ended: number;
      };
      return void console.log(`ended ${ended} session(s) of ${name}`);
    }
    default:
      throw usageError(USAGE);
  }
}

function client(consoleFlag: string | undefined): Promise<ApiClient> {
  return ApiClient.fromEnvironment(consoleFlag);
}
