import { AupStatusResponseSchema } from '../../shared/admin-api.js';
import { readFileSync } from 'node:fs';
import { PolicyDocumentSchema, summariseZodError, type PolicyDocument } from '../../shared/policy.js';
import { intOption, parse } from '../args.js';
import { ApiClient, login, saveSession } from '../client.js';
import { CliError, usageError } from '../errors.js';
import { prompt, promptSecret } from '../prompt.js';
import { PolicyNameSchema } from '../../shared/policies/model.js';
import { pushMode, pushOntoPolicy, runPolicyPlane } from './policy-plane.js';
import { ssoLogin } from '../sso-login.js';
import { USER_HELP } from './users.js';

export { runUser } from './users.js';

export const ADMIN_HELP = `vigil login [--console URL] [--username NAME] [--sso]
  Signs in and saves a session for the commands below (password from VIGIL_PASSWORD or a prompt,
  never echoed; the second-factor code from VIGIL_CODE or a prompt). --sso signs in through the
  school's provider in a browser instead.

vigil policy validate <file>
  Checks a policy file without sending it.
vigil policy push <file> [--policy NAME] [--keep-console-rules | --replace] [--reason TEXT] [--console URL] [--expires-days N]
  Validates the file and pushes it onto a named policy (default: the baseline, which every device
  gets); the console signs and delivers the result. Refused, naming them, if it would drop rules
  added on the console or by approving requests, unless --keep-console-rules or --replace says how.
  More policy verbs (list, show, diff, history, rollback, assign, explain, rules): see below.

vigil aup publish <file.md> --variant NAME [--title TEXT] [--console URL]
  Publishes the Markdown file as the next version of that AUP variant (title defaults to its
  first "# " heading); everyone on that variant is asked to accept it again.
vigil aup list [--console URL]
vigil aup coverage [--variant NAME] [--csv] [--console URL]
  Who has accepted which version, on which device (CSV for spreadsheets).
vigil aup pending --variant NAME [--csv] [--console URL]
  Who has not accepted the current version yet: everyone seen signing in on a device that shows
  that variant (--csv: everyone, with an "accepted" column).

vigil device list [--console URL]
vigil device revoke <device-id> [--console URL]
vigil device lock|logoff <device-id> [--console URL]
vigil device message <device-id> <text> [--console URL]
  Signed commands to a connected device: lock the screen now; log off after the policy's
  warning countdown; show a message. Technicians and admins.
vigil enroll-token create --label TEXT [--hours N] [--max-uses N] [--console URL]
vigil enroll-token list [--console URL]
vigil enroll-token revoke <token-id> [--console URL]
${USER_HELP}`;

export async function runLogin(argv: string[]): Promise<void> {
  const { values } = parse(argv, { console: { type: 'string' }, username: { type: 'string' }, sso: { type: 'boolean' } });
  const consoleUrl = values.console ?? process.env.VIGIL_CONSOLE_URL;
  if (!consoleUrl) throw usageError('give --console URL (or set VIGIL_CONSOLE_URL)');
  if (values.sso) {
    const session = await ssoLogin(consoleUrl, (line) => console.error(line));
    const file = saveSession(consoleUrl, session);
    return void console.log(`signed in as ${session.username} (${session.role}) until ${session.expiresAt}; session saved in ${file}`);
  }
  const username = values.username ?? process.env.VIGIL_USERNAME ?? (await prompt('Username: '));
  const password = process.env.VIGIL_PASSWORD ?? (await promptSecret('Password: '));
  const session = await login(consoleUrl, username, password, async () => process.env.VIGIL_CODE ?? (await promptSecret('Code from your authenticator app: ')));
  const file = saveSession(consoleUrl, session);
  console.log(`signed in as ${session.username} (${session.role}) until ${session.expiresAt}; session saved in ${file}`);
}

/** Reads and validates a policy file; every problem is one line naming the file. */
export function readPolicyFile(file: string): PolicyDocument {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new CliError(`cannot read policy file ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new CliError(`policy file ${file} is not valid JSON: ${(error as Error).message}`);
  }
  const parsed = PolicyDocumentSchema.safeParse(data);
  if (!parsed.success) throw new CliError(`policy file ${file} is invalid: ${summariseZodError(parsed.error)}`);
  return parsed.data;
}

export async function runPolicy(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  if (sub === 'validate') {
    const { positionals } = parse(rest, {}, 1);
    if (!positionals[0]) throw usageError('usage: vigil policy validate <file>');
    const doc = readPolicyFile(positionals[0]);
    return void console.log(`${positionals[0]}: valid policy "${doc.name}"`);
  }
  if (sub === 'push') {
    const { values, positionals } = parse(
      rest,
      {
        console: { type: 'string' },
        'expires-days': { type: 'string' },
        policy: { type: 'string' },
        'keep-console-rules': { type: 'boolean' },
        replace: { type: 'boolean' },
        reason: { type: 'string' },
      },
      1,
    );
    if (!positionals[0]) throw usageError('usage: vigil policy push <file> [--policy NAME]');
    const policy = readPolicyFile(positionals[0]);
    const expiresInDays = intOption(values['expires-days'], 'expires-days', 1, 365, 90);
    const mode = pushMode(values);
    if (values.policy !== undefined && !PolicyNameSchema.safeParse(values.policy).success) throw usageError(`--policy "${values.policy}" is not a policy name`);
    const client = await ApiClient.fromEnvironment(values.console);
    if (values.policy !== undefined) return pushOntoPolicy(client, values.policy, policy, mode, values.reason);
    const result = (await client.call('POST', '/api/v1/policies', { policy, expiresInDays, mode })) as { version: number; deliveredTo: number; keyId: string };
    return void console.log(
      `pushed "${policy.name}" as version ${result.version} (signed by ${result.keyId}); sent live to ${result.deliveredTo} connected device(s)`,
    );
  }
  if (await runPolicyPlane(sub, rest)) return;
  throw usageError(
    `unknown policy command "${sub ?? ''}"; try: vigil policy validate|push|list|show|history|diff|rollback|create|assign|unassign|baseline|explain|rules`,
  );
}

export async function runDevice(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parse(rest, { console: { type: 'string' }, json: { type: 'boolean' } }, sub === 'message' ? 2 : 1);
  if (sub === 'lock' || sub === 'logoff' || sub === 'message') {
    const [id, text] = positionals;
    if (!id || (sub === 'message') !== (text !== undefined)) throw usageError(`usage: vigil device ${sub} <device-id>${sub === 'message' ? ' <text>' : ''}`);
    const client = await ApiClient.fromEnvironment(values.console);
    const issued = (await client.call('POST', `/api/v1/devices/${encodeURIComponent(id)}/commands`, {
      action: sub,
      ...(text !== undefined ? { text } : {}),
    })) as {
      id: string;
      result: { outcome: string; detail: string; backend: string | null } | null;
    };
    if (!issued.result) return void console.log(`${sub} sent to ${id} (command ${issued.id}); no answer yet — the result will be in the audit log`);
    const { outcome, detail, backend } = issued.result;
    if (outcome !== 'done') throw new CliError(`${sub} on ${id}: ${outcome}: ${detail}`);
    return void console.log(`${sub} done on ${id}${backend ? ` via ${backend}` : ''}: ${detail}`);
  }
  const client = await ApiClient.fromEnvironment(values.console);
  if (sub === 'list') {
    const { devices } = (await client.call('GET', '/api/v1/devices')) as {
      devices: { id: string; hostname: string; online: boolean; policyVersion: number | null; revoked: boolean }[];
    };
    if (values.json) return void console.log(JSON.stringify(devices, null, 2));
    for (const d of devices) {
      console.log(`${d.id}  ${d.online ? 'online ' : 'offline'}  policy ${d.policyVersion ?? '-'}  ${d.revoked ? 'REVOKED ' : ''}${d.hostname}`);
    }
    return;
  }
  if (sub === 'revoke') {
    if (!positionals[0]) throw usageError('usage: vigil device revoke <device-id>');
    await client.call('POST', `/api/v1/devices/${encodeURIComponent(positionals[0])}/revoke`, {});
    return void console.log(`revoked ${positionals[0]}`);
  }
  throw usageError(`unknown device command "${sub ?? ''}"; try: vigil device list|revoke|lock|logoff|message`);
}

export async function runEnrollToken(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  if (sub === 'list' || sub === 'revoke') {
    const { values, positionals } = parse(rest, { console: { type: 'string' } }, 1);
    const client = await ApiClient.fromEnvironment(values.console);
    if (sub === 'revoke') {
      if (!positionals[0]) throw usageError('usage: vigil enroll-token revoke <token-id>');
      await client.call('POST', `/api/v1/enroll-tokens/${encodeURIComponent(positionals[0])}/revoke`, {});
      return void console.log(`revoked enrollment token ${positionals[0]}`);
    }
    const { tokens } = (await client.call('GET', '/api/v1/enroll-tokens')) as {
      tokens: { id: string; label: string; expiresAt: string; uses: number; maxUses: number | null; revoked: boolean }[];
    };
    for (const t of tokens) {
      const state = t.revoked ? 'revoked' : Date.parse(t.expiresAt) <= Date.now() ? 'expired' : 'active';
      console.log(`${t.id}  ${state.padEnd(7)}  uses ${t.uses}/${t.maxUses ?? '∞'}  expires ${t.expiresAt}  ${t.label}`);
    }
    return;
  }
  if (sub !== 'create') throw usageError('usage: vigil enroll-token create|list|revoke');
  const { values } = parse(rest, { console: { type: 'string' }, label: { type: 'string' }, hours: { type: 'string' }, 'max-uses': { type: 'string' } });
  if (!values.label) throw usageError('--label is required (say what the token is for, e.g. "Year 7 laptops")');
  const client = await ApiClient.fromEnvironment(values.console);
  const result = (await client.call('POST', '/api/v1/enroll-tokens', {
    label: values.label,
    expiresInHours: intOption(values.hours, 'hours', 1, 24 * 365, 24 * 30),
    maxUses: values['max-uses'] === undefined ? null : intOption(values['max-uses'], 'max-uses', 1, 100_000, 1),
  })) as { id: string; token: string; expiresAt: string };
  console.log(`enrollment token (shown once): ${result.token}`);
  console.log(`id ${result.id}, expires ${result.expiresAt}`);
}

export async function runAup(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parse(
    rest,
    { console: { type: 'string' }, variant: { type: 'string' }, title: { type: 'string' }, csv: { type: 'boolean' } },
    1,
  );
  if (sub === 'publish') {
    const file = positionals[0];
    if (!file || !values.variant) throw usageError('usage: vigil aup publish <file.md> --variant NAME');
    let markdown: string;
    try {
      markdown = readFileSync(file, 'utf8');
    } catch (error) {
      throw new CliError(`cannot read AUP file ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    const heading = /^#\s+(.+)$/m.exec(markdown);
    const title = values.title ?? heading?.[1]?.trim();
    if (!title) throw usageError('give --title, or start the file with a "# Title" line');
    // The page shows the title itself; keep it out of the body.
    const body = values.title ? markdown : markdown.replace(/^#\s+.+\n?/m, '');
    const client = await ApiClient.fromEnvironment(values.console);
    const result = (await client.call('POST', '/api/v1/aups', { variant: values.variant, title, markdown: body })) as { version: number; deliveredTo: number };
    return void console.log(`published "${title}" as ${values.variant} version ${result.version}; sent to ${result.deliveredTo} connected device(s)`);
  }
  const client = await ApiClient.fromEnvironment(values.console);
  if (sub === 'list') {
    const { aups } = (await client.call('GET', '/api/v1/aups')) as { aups: { variant: string; version: number; publishedBy: string; publishedAt: string }[] };
    for (const a of aups) console.log(`${a.variant.padEnd(12)} v${a.version}  ${a.publishedAt}  by ${a.publishedBy}`);
    return;
  }
  if (sub === 'coverage') {
    const query = new URLSearchParams();
    if (values.variant) query.set('variant', values.variant);
    if (values.csv) {
      query.set('format', 'csv');
      return void process.stdout.write(await client.callText('GET', `/api/v1/aups/coverage?${query}`));
    }
    const { rows } = (await client.call('GET', `/api/v1/aups/coverage?${query}`)) as {
      rows: { variant: string; version: number; current: boolean; user: string; hostname: string; acceptedAt: string }[];
    };
    console.log(`${'VARIANT'.padEnd(12)} ${'VERSION'.padEnd(12)}  ${'USER'.padEnd(16)} ${'DEVICE'.padEnd(20)} ACCEPTED`);
    for (const r of rows)
      console.log(
        `${r.variant.padEnd(12)} ${`v${r.version}${r.current ? ' (current)' : ''}`.padEnd(12)}  ${r.user.padEnd(16)} ${r.hostname.padEnd(20)} ${r.acceptedAt}`,
      );
    if (rows.length === 0) console.log(values.variant ? `nobody has accepted an AUP of variant "${values.variant}" yet` : 'nobody has accepted an AUP yet');
    return;
  }
  if (sub === 'pending') {
    if (!values.variant) throw usageError('usage: vigil aup pending --variant NAME [--csv]');
    const query = new URLSearchParams({ variant: values.variant });
    if (values.csv) return void process.stdout.write(await client.callText('GET', `/api/v1/aups/status?${query}&format=csv`));
    const status = AupStatusResponseSchema.parse(await client.call('GET', `/api/v1/aups/status?${query}`));
    const pending = status.rows.filter((r) => r.acceptedAt === null);
    console.log(`${'USER'.padEnd(16)} ${'DEVICE'.padEnd(20)} LAST SEEN`);
    for (const r of pending) console.log(`${r.user.padEnd(16)} ${r.hostname.padEnd(20)} ${r.lastSeenAt}`);
    if (status.version === null) console.log(`no version of "${status.variant}" is published yet`);
    else
      console.log(
        `${status.variant} v${status.version}: ${status.counts.notAccepted} of ${status.counts.users} users seen on its devices have not accepted yet`,
      );
    return;
  }
  throw usageError(`unknown aup command "${sub ?? ''}"; try: vigil aup publish|list|coverage|pending`);
}
