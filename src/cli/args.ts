import { parseArgs, type ParseArgsConfig } from 'node:util';
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
