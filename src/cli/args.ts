import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { z } from 'zod';
import { summariseZodError } from '../shared/zod-errors.js';
import { usageError } from './errors.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/** parseArgs in strict mode, with its errors turned into usage errors that keep Node's hint. */
export function parse<O extends Options>(argv: string[], options: O, maxPositionals = 0) {
  let result;
  try {
    result = parseArgs({ args: attachDashValues(argv, options), options, strict: true, allowPositionals: true });
  } catch (error) {
    throw usageError(oneLine((error as Error).message));
  }
  if (result.positionals.length > maxPositionals) {
    throw usageError(`unexpected argument "${result.positionals[maxPositionals]}"`);
  }
  return result;
}

/**
 * `--opt -value` becomes `--opt=-value` when `--opt` takes a value and `-value` is not itself one
 * of the command's options. Node's parseArgs refuses the spaced form as ambiguous, yet secrets
 * (tokens, passwords) may start with `-`, and people and scripts write `--opt value`.
 */
export function attachDashValues(argv: readonly string[], options: Options): string[] {
  const takesValue = new Set<string>();
  const known = new Set<string>(['--']);
  for (const [name, option] of Object.entries(options)) {
    known.add(`--${name}`);
    if (option.short) known.add(`-${option.short}`);
    if (option.type === 'string') {
      takesValue.add(`--${name}`);
      if (option.short) takesValue.add(`-${option.short}`);
    }
  }
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const next = argv[i + 1];
    if (takesValue.has(arg) && next !== undefined && next.startsWith('-') && next !== '-' && !known.has(next.split('=')[0]!)) {
      out.push(arg.startsWith('--') ? `${arg}=${next}` : `${arg}${next}`);
      i++;
      continue;
    }
    out.push(arg);
  }
  return out;
}

function oneLine(message: string): string {
  return message
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.length > 0)
    .join(' ');
}

export function intOption(value: string | undefined, name: string, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^-?\d+$/.test(value)) throw usageError(`--${name} must be a whole number, not "${value}"`);
  const n = Number(value);
  if (n < min || n > max) throw usageError(`--${name} must be between ${min} and ${max}`);
  return n;
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** A JSON file named on the command line, checked against its schema; `what` names it in errors. */
export function readJsonFileArg<S extends z.ZodType>(file: string, schema: S, what: string): z.infer<S> {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw usageError(`cannot read ${what} ${file}: ${(error as Error).message}`);
  }
  const parsed = schema.safeParse(data);
  if (!parsed.success) throw usageError(`${what} ${file} is invalid: ${summariseZodError(parsed.error)}`);
  return parsed.data;
}
