import type { z } from 'zod';
import { AppRuleSchema, GroupNameSchema } from '../../shared/app-rules.js';
import {
  AssignmentsResponseSchema,
  ChangeResponseSchema,
  DiffResponseSchema,
  ExplainResponseSchema,
  GroupListResponseSchema,
  GroupResponseSchema,
  HistoryResponseSchema,
  PolicyListResponseSchema,
  PolicyResponseSchema,
  PushResponseSchema,
  RuleListResponseSchema,
} from '../../shared/policies/api.js';
import { formatExplanation } from '../../shared/policies/merge.js';
import { MembershipRuleSchema, PolicyNameSchema, type MembershipRule } from '../../shared/policies/model.js';
import { IsoDateTime, UuidSchema } from '../../shared/text.js';
import { summariseZodError } from '../../shared/zod-errors.js';
import { intOption, parse } from '../args.js';
import { ApiClient } from '../client.js';
import { usageError } from '../errors.js';

/**
 * `vigil groups …` and the policy-plane verbs of `vigil policy …` (docs/cli.md, docs/policies.md).
 * Every argument is checked here with the same schemas the console uses, before anything is sent,
 * so a bad argument changes nothing.
 */

export const POLICY_PLANE_HELP = `vigil groups list|show NAME
vigil groups create NAME [--display-name TEXT] [--description TEXT] [--device ID]... [--hostname PATTERN]...
                  [--ownership school|byod] [--token TOKEN-ID]...
vigil groups rename NAME NEW-NAME
vigil groups add-device|remove-device NAME DEVICE-ID...
vigil groups delete NAME
  Device groups: devices listed by hand plus membership rules (hostname pattern, ownership,
  enrollment token). Assignments and scoped rules follow a rename; a group still in use is not deleted.

vigil policy list
vigil policy show POLICY [--json]
vigil policy history POLICY
vigil policy diff POLICY [--from REV] [--to REV]
vigil policy rollback POLICY REV --reason TEXT
vigil policy create POLICY [--display-name TEXT]
vigil policy assign POLICY GROUP --precedence N
vigil policy unassign POLICY GROUP
vigil policy baseline POLICY
vigil policy explain DEVICE-ID [--json]
vigil policy rules list POLICY
vigil policy rules add POLICY (--sha256 HEX | --path PATTERN | --rule JSON) --action allow|block --reason TEXT
                  [--exception --expires ISO-TIME] [--group NAME]... [--replace]
vigil policy rules remove POLICY KEY --reason TEXT
  Named policies: a baseline for every device plus policies assigned to groups by precedence
  (higher wins). Every change is a revision (who, when, why); rollback publishes an older one again.
vigil policy push FILE [--policy NAME] [--keep-console-rules | --replace] [--reason TEXT]
  Without --policy the file goes onto the baseline. A push that would drop rules added on the
  console (or by approving requests) is refused naming them, unless you say which way to go.`;

const checked = <S extends z.ZodType>(schema: S, value: unknown, what: string): z.infer<S> => {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw usageError(`${what}: ${summariseZodError(parsed.error)}`);
  return parsed.data;
};
const policyArg = (v: string | undefined, usage: string) => {
  if (v === undefined) throw usageError(`usage: ${usage}`);
  return checked(PolicyNameSchema, v, `"${v}" is not a policy name`);
};
const groupArg = (v: string | undefined, usage: string) => {
  if (v === undefined) throw usageError(`usage: ${usage}`);
  return checked(GroupNameSchema, v, `"${v}" is not a group name`);
};
const revisionArg = (v: string | undefined, name: string) => (v === undefined ? undefined : intOption(v, name, 1, 1_000_000_000, 1));
const reasonArg = (v: string | undefined, what: string) => {
  if (!v || v.trim().length < 3) throw usageError(`--reason is required for ${what} (at least 3 characters: say why)`);
  return v;
};
const path = (...parts: string[]) => parts.map(encodeURIComponent).join('/');

function printChange(what: string, raw: unknown): void {
  const r = ChangeResponseSchema.passthrough().parse(raw);
  const revision = r.revision ? ` (revision ${r.revision})` : '';
  const published =
    r.version === null ? 'no device policy changed' : `published as policy version ${r.version}, sent live to ${r.notified} connected device(s)`;
  console.log(`${what}${revision}; ${published}`);
}

export async function runGroups(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parse(
    rest,
    {
      console: { type: 'string' },
      'display-name': { type: 'string' },
      description: { type: 'string' },
      device: { type: 'string', multiple: true },
      hostname: { type: 'string', multiple: true },
      ownership: { type: 'string' },
      token: { type: 'string', multiple: true },
      json: { type: 'boolean' },
    },
    sub === 'add-device' || sub === 'remove-device' ? 10_000 : 2,
  );
  const usage = 'vigil groups list|show|create|rename|delete|add-device|remove-device';
  if (!['list', 'show', 'create', 'rename', 'delete', 'add-device', 'remove-device'].includes(sub ?? '')) throw usageError(`usage: ${usage}`);
  // Everything is checked before the console is asked anything.
  const name = sub === 'list' ? null : groupArg(positionals[0], `vigil groups ${sub} NAME`);
  const devices = (sub === 'add-device' || sub === 'remove-device' ? positionals.slice(1) : (values.device ?? [])).map((id) =>
    checked(UuidSchema, id, `"${id}" is not a device id`),
  );
  if ((sub === 'add-device' || sub === 'remove-device') && devices.length === 0) throw usageError(`usage: vigil groups ${sub} NAME DEVICE-ID...`);
  const rules: MembershipRule[] = [
    ...(values.hostname ?? []).map((pattern) => ({ kind: 'hostname' as const, pattern })),
    ...(values.ownership ? [{ kind: 'ownership' as const, ownership: values.ownership }] : []),
    ...(values.token ?? []).map((tokenId) => ({ kind: 'enrollment-token' as const, tokenId })),
  ].map((r) => checked(MembershipRuleSchema, r, `membership rule ${JSON.stringify(r)}`));
  const to = sub === 'rename' ? groupArg(positionals[1], 'vigil groups rename NAME NEW-NAME') : null;
  if (sub !== 'rename' && sub !== 'create' && positionals.length > 1 && sub !== 'add-device' && sub !== 'remove-device')
    throw usageError(`unexpected argument "${positionals[1]}"`);

  const client = await ApiClient.fromEnvironment(values.console);
  if (sub === 'list') {
    const { groups } = GroupListResponseSchema.parse(await client.call('GET', '/api/v1/groups'));
    if (values.json) return void console.log(JSON.stringify(groups, null, 2));
    for (const g of groups) console.log(`${g.name.padEnd(20)} ${String(g.members.length).padStart(6)} device(s)  ${g.displayName}`);
    if (groups.length === 0) console.log('no groups yet: vigil groups create NAME');
    return;
  }
  if (sub === 'show') {
    const { group } = GroupResponseSchema.parse(await client.call('GET', `/api/v1/groups/${path(name!)}`));
    return void console.log(JSON.stringify(group, null, 2));
  }
  if (sub === 'create') {
    const body = { name, displayName: values['display-name'] ?? name, ...(values.description ? { description: values.description } : {}), devices, rules };
    return printChange(`created group ${name}`, await client.call('POST', '/api/v1/groups', body));
  }
  if (sub === 'delete') return printChange(`deleted group ${name}`, await client.call('DELETE', `/api/v1/groups/${path(name!)}`));
  const patch = sub === 'rename' ? { name: to } : sub === 'add-device' ? { addDevices: devices } : { removeDevices: devices };
  return printChange(`${sub} ${name}`, await client.call('PATCH', `/api/v1/groups/${path(name!)}`, patch));
}

/** The policy-plane verbs; returns false for a verb it does not know (admin.ts handles validate/push). */
export async function runPolicyPlane(sub: string | undefined, rest: string[]): Promise<boolean> {
  if (sub === 'rules') {
    await runRules(rest);
    return true;
  }
  const verbs = ['list', 'show', 'history', 'diff', 'rollback', 'create', 'assign', 'unassign', 'baseline', 'explain'];
  if (!verbs.includes(sub ?? '')) return false;
  const { values, positionals } = parse(
    rest,
    {
      console: { type: 'string' },
      json: { type: 'boolean' },
      from: { type: 'string' },
      to: { type: 'string' },
      reason: { type: 'string' },
      precedence: { type: 'string' },
      'display-name': { type: 'string' },
    },
    sub === 'list' ? 0 : sub === 'assign' || sub === 'unassign' || sub === 'rollback' ? 2 : 1,
  );
  if (sub === 'explain') {
    const id = positionals[0];
    if (!id) throw usageError('usage: vigil policy explain DEVICE-ID');
    checked(UuidSchema, id, `"${id}" is not a device id`);
    const client = await ApiClient.fromEnvironment(values.console);
    const answer = ExplainResponseSchema.parse(await client.call('GET', `/api/v1/devices/${path(id)}/policy/explain`));
    if (values.json) return (void console.log(JSON.stringify(answer, null, 2)), true);
    console.log(formatExplanation(answer.explanation, answer.memberships));
    if (answer.effective.aup) console.log(`AUP variant: ${answer.effective.aup.variant}`);
    for (const p of answer.problems) console.log(`problem: ${p}`);
    return true;
  }
  if (sub === 'list') {
    const client = await ApiClient.fromEnvironment(values.console);
    const { policies } = PolicyListResponseSchema.parse(await client.call('GET', '/api/v1/named-policies'));
    const { assignments } = AssignmentsResponseSchema.parse(await client.call('GET', '/api/v1/assignments'));
    for (const p of policies)
      console.log(
        `${p.name.padEnd(20)} rev ${String(p.revision).padEnd(4)} ${String(p.rules).padStart(7)} rule(s)  ${p.baseline ? 'baseline' : p.assignedTo.length ? `assigned to ${p.assignedTo.join(', ')}` : 'not assigned'}  ${p.displayName}`,
      );
    if (policies.length === 0) console.log('no policies yet: vigil policy push FILE');
    for (const a of assignments?.assignments ?? []) console.log(`assignment: ${a.policy} -> group ${a.group}, precedence ${a.precedence}`);
    return true;
  }
  const usage = `vigil policy ${sub} POLICY${sub === 'assign' ? ' GROUP --precedence N' : sub === 'unassign' ? ' GROUP' : sub === 'rollback' ? ' REV --reason TEXT' : ''}`;
  const name = policyArg(positionals[0], usage);
  if (sub === 'assign' || sub === 'unassign') {
    const group = groupArg(positionals[1], usage);
    if (sub === 'assign' && values.precedence === undefined) throw usageError(`usage: ${usage}`);
    const precedence = sub === 'assign' ? intOption(values.precedence, 'precedence', 1, 1_000_000, 1) : 0;
    const client = await ApiClient.fromEnvironment(values.console);
    if (sub === 'unassign')
      return (printChange(`unassigned ${name} from ${group}`, await client.call('DELETE', `/api/v1/assignments/${path(name, group)}`)), true);
    const body = { policy: name, group, precedence, ...(values.reason ? { reason: reasonArg(values.reason, 'assign') } : {}) };
    return (printChange(`assigned ${name} to ${group} at precedence ${precedence}`, await client.call('POST', '/api/v1/assignments', body)), true);
  }
  if (sub === 'rollback') {
    const revision = revisionArg(positionals[1], 'revision');
    if (revision === undefined) throw usageError(`usage: ${usage}`);
    const reason = reasonArg(values.reason, 'a rollback');
    const client = await ApiClient.fromEnvironment(values.console);
    return (
      printChange(
        `rolled ${name} back to revision ${revision}`,
        await client.call('POST', `/api/v1/named-policies/${path(name)}/rollback`, { revision, reason }),
      ),
      true
    );
  }
  const client = await ApiClient.fromEnvironment(values.console);
  if (sub === 'create') {
    const body = { name, displayName: values['display-name'] ?? name, ...(values.reason ? { reason: reasonArg(values.reason, 'create') } : {}) };
    return (printChange(`created policy ${name}`, await client.call('POST', '/api/v1/named-policies', body)), true);
  }
  if (sub === 'baseline') return (printChange(`${name} is the baseline`, await client.call('PUT', '/api/v1/assignments/baseline', { policy: name })), true);
  if (sub === 'show') {
    const { policy } = PolicyResponseSchema.parse(await client.call('GET', `/api/v1/named-policies/${path(name)}`));
    if (values.json) return (void console.log(JSON.stringify(policy, null, 2)), true);
    console.log(`${policy.name} (${policy.displayName}), revision ${policy.revision}, ${policy.content.rules.length} rule(s)`);
    console.log(`settings: ${JSON.stringify(policy.content.settings)}`);
    return true;
  }
  if (sub === 'history') {
    const { history } = HistoryResponseSchema.parse(await client.call('GET', `/api/v1/named-policies/${path(name)}/history`));
    for (const r of history)
      console.log(
        `rev ${String(r.revision).padEnd(4)} ${r.at}  ${r.change.padEnd(11)} by ${r.author}${r.rolledBackTo ? ` (content of rev ${r.rolledBackTo})` : ''}${r.reason ? `: ${r.reason}` : ''}`,
      );
    return true;
  }
  // diff
  const query = new URLSearchParams();
  const from = revisionArg(values.from, 'from');
  const to = revisionArg(values.to, 'to');
  if (from !== undefined) query.set('from', String(from));
  if (to !== undefined) query.set('to', String(to));
  const answer = DiffResponseSchema.parse(await client.call('GET', `/api/v1/named-policies/${path(name)}/diff?${query}`));
  if (values.json) return (void console.log(JSON.stringify(answer, null, 2)), true);
  const { rules, settings } = answer.diff;
  console.log(`${name}: revision ${answer.from} -> ${answer.to}`);
  for (const r of rules.added) console.log(`+ ${JSON.stringify(r.rule)} (${r.origin} by ${r.author})`);
  for (const r of rules.removed) console.log(`- ${JSON.stringify(r.rule)} (${r.origin} by ${r.author})`);
  for (const c of rules.changed) console.log(`~ ${c.key}: ${c.fields.join(', ')}`);
  for (const s of settings) console.log(`~ setting ${s.setting}: ${JSON.stringify(s.before ?? null)} -> ${JSON.stringify(s.after ?? null)}`);
  if (rules.added.length + rules.removed.length + rules.changed.length + settings.length === 0) console.log('no differences');
  return true;
}

async function runRules(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parse(
    rest,
    {
      console: { type: 'string' },
      json: { type: 'boolean' },
      sha256: { type: 'string' },
      path: { type: 'string' },
      rule: { type: 'string' },
      action: { type: 'string' },
      reason: { type: 'string' },
      exception: { type: 'boolean' },
      expires: { type: 'string' },
      group: { type: 'string', multiple: true },
      replace: { type: 'boolean' },
      id: { type: 'string' },
      description: { type: 'string' },
    },
    sub === 'remove' ? 2 : 1,
  );
  if (sub !== 'list' && sub !== 'add' && sub !== 'remove') throw usageError('usage: vigil policy rules list|add|remove POLICY');
  const name = policyArg(positionals[0], `vigil policy rules ${sub} POLICY`);
  if (sub === 'list') {
    const client = await ApiClient.fromEnvironment(values.console);
    const { rules } = RuleListResponseSchema.parse(await client.call('GET', `/api/v1/named-policies/${path(name)}/rules`));
    if (values.json) return void console.log(JSON.stringify(rules, null, 2));
    for (const { key, record } of rules)
      console.log(
        `${record.rule.action.padEnd(5)} ${key}  ${record.origin} by ${record.author}${record.expiresAt ? `, until ${record.expiresAt}` : ''}${record.reason ? `: ${record.reason}` : ''}`,
      );
    if (rules.length === 0) console.log(`${name} has no rules`);
    return;
  }
  if (sub === 'remove') {
    const key = positionals[1];
    if (!key) throw usageError('usage: vigil policy rules remove POLICY KEY --reason TEXT (KEY as `rules list` shows it, or the rule id)');
    const reason = reasonArg(values.reason, 'removing a rule');
    const client = await ApiClient.fromEnvironment(values.console);
    return printChange(`removed ${key} from ${name}`, await client.call('DELETE', `/api/v1/named-policies/${path(name)}/rules`, { key, reason }));
  }
  const targets = [values.sha256, values.path, values.rule].filter((v) => v !== undefined).length;
  if (targets !== 1) throw usageError('give exactly one of --sha256 HEX, --path PATTERN or --rule JSON');
  let base: Record<string, unknown>;
  if (values.rule !== undefined) {
    try {
      base = JSON.parse(values.rule) as Record<string, unknown>;
    } catch (error) {
      throw usageError(`--rule is not JSON: ${(error as Error).message}`);
    }
  } else base = values.sha256 !== undefined ? { kind: 'sha256', sha256: values.sha256 } : { kind: 'path', platform: 'posix', pattern: values.path };
  const rule = checked(
    AppRuleSchema,
    {
      ...base,
      ...(values.action ? { action: values.action } : {}),
      ...(values.id ? { id: values.id } : {}),
      ...(values.description ? { description: values.description } : {}),
      ...(values.group ? { groups: values.group } : {}),
    },
    'the rule is not valid',
  );
  const reason = reasonArg(values.reason, 'adding a rule');
  if (values.exception && !values.expires) throw usageError('an exception needs --expires ISO-TIME');
  const expiresAt = values.expires === undefined ? undefined : checked(IsoDateTime, values.expires, '--expires must be an ISO time like 2026-12-20T00:00:00Z');
  if (expiresAt && Date.parse(expiresAt) <= Date.now()) throw usageError('--expires is in the past');
  const client = await ApiClient.fromEnvironment(values.console);
  const body = { rule, exception: values.exception ?? false, reason, ...(expiresAt ? { expiresAt } : {}), replace: values.replace ?? false };
  printChange(`added a ${rule.action} rule to ${name}`, await client.call('POST', `/api/v1/named-policies/${path(name)}/rules`, body));
}

/** `vigil policy push FILE --policy NAME`: the named policy's push route; prints what changed. */
export async function pushOntoPolicy(client: ApiClient, name: string, document: unknown, mode: string, reason: string | undefined): Promise<void> {
  const answer = PushResponseSchema.parse(
    await client.call('POST', `/api/v1/named-policies/${path(name)}/push`, { document, mode, ...(reason ? { reason } : {}) }),
  );
  const { added, removed, changed } = answer.diff.rules;
  console.log(
    `pushed onto ${answer.policy}${answer.revision ? ` as revision ${answer.revision}` : ''}: ${added.length} rule(s) added, ${removed.length} removed, ${changed.length} changed, ${answer.diff.settings.length} setting(s) changed; ${
      answer.version === null
        ? 'no device policy changed'
        : `published as policy version ${answer.version}, sent live to ${answer.notified} connected device(s)`
    }`,
  );
  for (const note of answer.notes) console.log(`note: ${note}`);
}

export function pushMode(values: { 'keep-console-rules'?: boolean; replace?: boolean }): 'refuse' | 'keep-console-rules' | 'replace' {
  if (values['keep-console-rules'] && values.replace) throw usageError('give at most one of --keep-console-rules and --replace');
  return values['keep-console-rules'] ? 'keep-console-rules' : values.replace ? 'replace' : 'refuse';
}
