import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { z } from 'zod';
import { summariseZodError } from '../shared/zod-errors.js';
import { usageError } from './errors.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/** parseArgs in strict mode, with its errors turned into one-line usage errors. */
export function parse<O extends Options>(argv: string[], options: O, maxPositionals = 0) {
  let result;
  try {
    result = parseArgs({ args: argv, options, strict: true, allowPositionals: true });
  } catch (error) {
    throw usageError((error as Error).message.split('\n')[0]!);
  }
  if (result.positionals.length > maxPositionals) {
    throw usageError(`unexpected argument "${result.positionals[maxPositionals]}"`);
  }
  return result;
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
