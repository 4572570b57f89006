import { describe, expect, it } from 'vitest';
import { attachDashValues, parse } from '../../src/cli/args.js';
import { CliError } from '../../src/cli/errors.js';
import { randomSecret } from '../../src/shared/node/crypto.js';

const options = {
  'enroll-token': { type: 'string' },
  console: { type: 'string', short: 'c' },
  verbose: { type: 'boolean', short: 'v' },
} as const;

describe('command-line values that start with "-"', () => {
  it('accepts a secret starting with "-" after a space and after "="', () => {
    expect(parse(['--enroll-token', '-AbC_123'], options).values['enroll-token']).toBe('-AbC_123');
    expect(parse(['--enroll-token=-AbC_123'], options).values['enroll-token']).toBe('-AbC_123');
    expect(parse(['-c', '-weird'], options).values.console).toBe('-weird');
    expect(parse(['--enroll-token', '--x-y'], options).values['enroll-token']).toBe('--x-y');
  });

  it('still treats a known option after a value-taking option as a missing value, with Node hint kept', () => {
    let error: unknown;
    try {
      parse(['--enroll-token', '--console', 'http://x'], options);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).exitCode).toBe(2);
    expect((error as CliError).message).toMatch(/ambiguous/);
    expect((error as CliError).message).toMatch(/--enroll-token=-XYZ/);
    expect((error as CliError).message).not.toContain('\n');
  });

  it('leaves boolean options, "--" and everything after it alone', () => {
    expect(attachDashValues(['-v', '--', '--enroll-token', '-x'], options)).toEqual(['-v', '--', '--enroll-token', '-x']);
    expect(attachDashValues(['--verbose', '-c', '-v'], options)).toEqual(['--verbose', '-c', '-v']);
  });
});

describe('generated secrets', () => {
  it('never start with "-" (about 1 in 64 base64url strings would)', () => {
    for (let i = 0; i < 20_000; i++) {
      const secret = randomSecret(3);
      expect(secret.startsWith('-')).toBe(false);
      expect(secret).toMatch(/^[A-Za-z0-9_-]{4}$/);
    }
  });
});
