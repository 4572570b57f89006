import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { basename } from 'node:path';
import type { AppRequest } from '../../shared/api.js';
import { exportAppLocker, importAppLocker } from '../../shared/node/appcontrol/applocker.js';
import { exportRulesCsv, importRulesCsv } from '../../shared/appcontrol/csv-rules.js';
import { ImportError, type RuleImport } from '../../shared/appcontrol/import.js';
import { exportSanta, importSanta } from '../../shared/appcontrol/santa.js';
import { encodeUtf16le } from '../../shared/node/appcontrol/xml.js';
import { Outbox } from '../../agent/outbox.js';
import { paths } from '../../agent/identity.js';
import { parse } from '../args.js';
import { ApiClient } from '../client.js';
import { CliError, usageError } from '../errors.js';
import { defaultAgentDataDir } from './agent.js';
import { readPolicyFile } from './admin.js';

export const APPS_HELP = `vigil request-app <path> [--reason TEXT] [--data-dir DIR]
  Asks the Systems Manager to allow a program: queues an app.permission-requested event (name,
  SHA-256, signer, path, user, reason) in this device's outbox for the console.

vigil app-request list [--status pending|approved|declined] [--json] [--console URL]
vigil app-request approve <id> [--by hash|signer] [--expires ISO-TIME] [--group NAME ...] [--note TEXT]
  Adds an allow rule for the program (by its hash unless --by signer) to the latest policy and
  publishes it live; with --expires it is a time-boxed exception; --group scopes it.
vigil app-request decline <id> [--note TEXT]

vigil app-rules import <file> --format applocker|santa|csv
  Converts rules to Vigil's JSON (rules and exceptions, for a policy's applications section) on
  stdout; every part that cannot be represented is listed on stderr with its line number.
vigil app-rules export <policy.json> --format applocker|santa|csv [--out FILE]
  Writes the policy's application rules in another format (AppLocker XML as UTF-16 with a BOM);
  rules that format cannot express are listed on stderr.`;

function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}

export async function runRequestApp(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv, { reason: { type: 'string' }, 'data-dir': { type: 'string' } }, 1);
  if (!positionals[0]) throw usageError('usage: vigil request-app <path> [--reason TEXT]');
  if (!existsSync(positionals[0]) || !statSync(positionals[0]).isFile()) throw usageError(`${positionals[0]}: not a file`);
  const path = realpathSync(positionals[0]);
  const file = paths(values['data-dir'] ?? defaultAgentDataDir()).outbox;
  if (!existsSync(file)) throw new CliError(`no agent outbox at ${file}: is the Vigil agent running on this device?`);
  const reason = values.reason?.trim() || null;
  if (reason && reason.length > 500) throw usageError('--reason is limited to 500 characters');
  const outbox = new Outbox(file);
  try {
    const [event] = outbox.append([
      // Linux has no code signatures: the signer is reported as unknown, never guessed.
      {
        type: 'app.permission-requested',
        data: { name: basename(path), path, sha256: await sha256File(path), signer: 'unknown', user: userInfo().username, reason },
      },
    ]);
    console.log(`asked for permission to run ${basename(path)} (request ${event!.id}); your Systems Manager will see it in the console`);
  } finally {
    outbox.close();
  }
}

export async function runAppRequest(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parse(
    rest,
    {
      console: { type: 'string' },
      json: { type: 'boolean' },
      status: { type: 'string' },
      by: { type: 'string' },
      expires: { type: 'string' },
      group: { type: 'string', multiple: true },
      note: { type: 'string' },
    },
    1,
  );
  const client = await ApiClient.fromEnvironment(values.console);
  if (sub === 'list') {
    const query = values.status ? `?status=${encodeURIComponent(values.status)}` : '';
    const { requests } = (await client.call('GET', `/api/v1/app-requests${query}`)) as { requests: AppRequest[] };
    if (values.json) return void console.log(JSON.stringify(requests, null, 2));
    for (const r of requests)
      console.log(`${r.id}  ${r.status.padEnd(8)}  ${r.hostname}  ${r.user ?? '-'}  ${r.name}  ${r.sha256.slice(0, 12)}…  ${r.reason ?? ''}`);
    return;
  }
  const id = positionals[0];
  if (sub === 'approve') {
    if (!id) throw usageError('usage: vigil app-request approve <id> [--by hash|signer] [--expires ISO-TIME] [--group NAME]');
    const body = {
      by: values.by ?? 'hash',
      ...(values.expires ? { expiresAt: values.expires } : {}),
      ...(values.group ? { groups: values.group } : {}),
      ...(values.note ? { note: values.note } : {}),
    };
    const result = (await client.call('POST', `/api/v1/app-requests/${encodeURIComponent(id)}/approve`, body)) as {
      version: number;
      deliveredTo: number;
      request: AppRequest;
    };
    return void console.log(`approved ${result.request.name}: policy version ${result.version}, sent live to ${result.deliveredTo} connected device(s)`);
  }
  if (sub === 'decline') {
    if (!id) throw usageError('usage: vigil app-request decline <id> [--note TEXT]');
    await client.call('POST', `/api/v1/app-requests/${encodeURIComponent(id)}/decline`, values.note ? { note: values.note } : {});
    return void console.log(`declined ${id}`);
  }
  throw usageError(`unknown app-request command "${sub ?? ''}"; try: vigil app-request list|approve|decline`);
}

const FORMATS = ['applocker', 'santa', 'csv'] as const;

export async function runAppRules(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parse(rest, { format: { type: 'string' }, out: { type: 'string' } }, 1);
  const format = values.format as (typeof FORMATS)[number];
  if (!FORMATS.includes(format)) throw usageError('--format must be applocker, santa or csv');
  if (!positionals[0]) throw usageError(`usage: vigil app-rules ${sub ?? 'import|export'} <file> --format ${FORMATS.join('|')}`);
  const note = (line: string) => process.stderr.write(`${positionals[0]}: ${line}\n`);
  if (sub === 'import') {
    const bytes = readFileSync(positionals[0]);
    let result: RuleImport;
    try {
      result =
        format === 'applocker' ? importAppLocker(bytes) : format === 'santa' ? importSanta(bytes.toString('utf8')) : importRulesCsv(bytes.toString('utf8'));
    } catch (error) {
      if (error instanceof ImportError) throw new CliError(`${positionals[0]}: ${error.message}`);
      throw error;
    }
    for (const n of result.notes) note(`line ${n.line}: ${n.message}`);
    const { notes: _listed, ...applications } = result;
    return void console.log(JSON.stringify(applications, null, 2));
  }
  if (sub === 'export') {
    const apps = readPolicyFile(positionals[0]).applications;
    if (!apps) throw new CliError(`${positionals[0]}: the policy has no applications section`);
    let output: string | Buffer;
    let notes: { ruleId: string | null; message: string }[] = [];
    if (format === 'applocker') {
      const live = apps.exceptions.filter((e) => Date.parse(e.expiresAt) > Date.now()).map((e) => e.rule);
      const result = exportAppLocker({ ...apps, rules: [...apps.rules, ...live] });
      [output, notes] = [encodeUtf16le(result.xml), result.notes];
    } else if (format === 'santa') {
      const result = exportSanta(apps.rules);
      [output, notes] = [result.json, result.notes];
      if (apps.exceptions.length) notes.push({ ruleId: null, message: `${apps.exceptions.length} exception(s) not exported: Santa rules have no expiry` });
    } else output = exportRulesCsv(apps.rules, apps.exceptions);
    for (const n of notes) note(`${n.ruleId ?? '(rule without id)'}: ${n.message}`);
    if (values.out) writeFileSync(values.out, output);
    else process.stdout.write(output);
    return;
  }
  throw usageError(`unknown app-rules command "${sub ?? ''}"; try: vigil app-rules import|export`);
}
