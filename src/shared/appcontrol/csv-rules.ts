import type { AppException, AppRule } from '../app-rules.js';
import { AppExceptionSchema, MAX_APP_EXCEPTIONS } from '../app-rules.js';
import { CsvError, csvRows, parseCsv } from '../csv.js';
import { summariseZodError } from '../zod-errors.js';
import { addRule, checkedRule, ImportError, type RuleImport } from './import.js';

/**
 * Rules as CSV, for spreadsheets. One rule per row; a row with `expires_at` is a time-boxed
 * exception and needs a `reason`. `groups` is a `;`-separated list.
 *
 *   kind: sha256 | authenticode-sha256 | path | windows-path | publisher | team-id | signing-id
 *   value: the hash, pattern, publisher, Team ID, or TEAMID:signing.id
 *   product, binary_name: narrow a publisher (Windows) rule; empty otherwise
 */
export const RULE_CSV_COLUMNS = ['kind', 'action', 'value', 'product', 'binary_name', 'id', 'description', 'groups', 'expires_at', 'reason'] as const;
type Column = (typeof RULE_CSV_COLUMNS)[number];

/** A cell named in an error: escaped and shortened, since it may be anything the file held. */
const quoted = (cell: string) => JSON.stringify(cell.length > 60 ? `${cell.slice(0, 60)}…` : cell);

export function importRulesCsv(text: string): RuleImport {
  let records;
  try {
    records = parseCsv(text);
  } catch (error) {
    if (error instanceof CsvError) throw new ImportError(error.detail, error.line);
    throw error;
  }
  const [header, ...rows] = records;
  if (!header) throw new ImportError('empty file: expected a header row', 1);
  const index = new Map<string, number>();
  header.cells.forEach((name, n) => {
    const column = name.trim().toLowerCase();
    if (!(RULE_CSV_COLUMNS as readonly string[]).includes(column))
      throw new ImportError(`unknown column ${quoted(name)} (columns: ${RULE_CSV_COLUMNS.join(', ')})`, header.line);
    if (index.has(column)) throw new ImportError(`column ${quoted(column)} appears twice`, header.line);
    index.set(column, n);
  });
  for (const required of ['kind', 'action', 'value']) if (!index.has(required)) throw new ImportError(`missing column "${required}"`, header.line);
  const result: RuleImport = { rules: [], exceptions: [], notes: [] };
  for (const row of rows) {
    if (row.cells.length !== header.cells.length) throw new ImportError(`${row.cells.length} cells where the header has ${header.cells.length}`, row.line);
    const get = (column: Column) => {
      const n = index.get(column);
      const cell = n === undefined ? '' : row.cells[n]!.trim();
      return cell === '' ? undefined : cell;
    };
    const groups = get('groups')
      ?.split(';')
      .map((g) => g.trim())
      .filter(Boolean);
    const common = { action: get('action'), id: get('id'), description: get('description'), groups: groups?.length ? groups : undefined };
    const value = get('value') ?? '';
    const kind = get('kind');
    const candidate: Record<string, unknown> = (() => {
      switch (kind) {
        case 'sha256':
          return { ...common, kind, sha256: value.toLowerCase() };
        case 'authenticode-sha256':
          return { ...common, kind, hash: value.toLowerCase() };
        case 'path':
          return { ...common, kind, platform: 'posix', pattern: value };
        case 'windows-path':
          return { ...common, kind: 'path', platform: 'windows', pattern: value };
        case 'publisher':
          return { ...common, kind: 'signer', publisher: value, product: get('product'), binaryName: get('binary_name') };
        case 'team-id':
          return { ...common, kind: 'signer', teamId: value };
        case 'signing-id': {
          const colon = value.indexOf(':');
          if (colon < 1) throw new ImportError('a signing-id value is TEAMID:signing.id', row.line);
          return { ...common, kind: 'signer', teamId: value.slice(0, colon), signingId: value.slice(colon + 1) };
        }
        default:
          throw new ImportError(`unknown kind ${quoted(kind ?? '')}`, row.line);
      }
    })();
    for (const key of Object.keys(candidate)) if (candidate[key] === undefined) delete candidate[key];
    const expiresAt = get('expires_at');
    const reason = get('reason');
    if (expiresAt === undefined && reason === undefined) {
      addRule(result, candidate, row.line);
      continue;
    }
    const rule = checkedRule(candidate, row.line);
    if (result.exceptions.length >= MAX_APP_EXCEPTIONS)
      throw new ImportError(
        `more than ${MAX_APP_EXCEPTIONS.toLocaleString('en')} exceptions: a policy holds at most ${MAX_APP_EXCEPTIONS.toLocaleString('en')} (the policy's exception limit)`,
        row.line,
      );
    const exception = AppExceptionSchema.safeParse({ rule, reason, expiresAt });
    if (!exception.success) throw new ImportError(`an exception needs both expires_at and reason: ${summariseZodError(exception.error)}`, row.line);
    result.exceptions.push(exception.data);
  }
  return result;
}

function rowOf(rule: AppRule, exception?: AppException): string[] {
  const [kind, value, product, binaryName] = ((): [string, string, string?, string?] => {
    switch (rule.kind) {
      case 'sha256':
        return ['sha256', rule.sha256];
      case 'authenticode-sha256':
        return ['authenticode-sha256', rule.hash];
      case 'path':
        return [rule.platform === 'windows' ? 'windows-path' : 'path', rule.pattern];
      case 'signer':
        if (rule.publisher) return ['publisher', rule.publisher, rule.product, rule.binaryName];
        return rule.signingId ? ['signing-id', `${rule.teamId}:${rule.signingId}`] : ['team-id', rule.teamId!];
    }
  })();
  return [
    kind,
    rule.action,
    value,
    product ?? '',
    binaryName ?? '',
    rule.id ?? '',
    rule.description ?? '',
    (rule.groups ?? []).join(';'),
    exception?.expiresAt ?? '',
    exception?.reason ?? '',
  ];
}

/** Every rule kind has a CSV form, so nothing is left out here (AppLocker file names are the exception: not kept). */
export function exportRulesCsv(rules: readonly AppRule[], exceptions: readonly AppException[] = []): string {
  return csvRows(RULE_CSV_COLUMNS, [...rules.map((r) => rowOf(r)), ...exceptions.map((e) => rowOf(e.rule, e))]);
}
