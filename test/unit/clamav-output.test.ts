import { describe, expect, it } from 'vitest';
import { parseResultLine } from '../../src/station/clamav.js';

describe('ClamAV result lines', () => {
  const known = new Set(['/m/a: b.txt', '/m/c.txt']);
  it('finds the path even when it contains ": "', () => {
    expect(parseResultLine('/m/a: b.txt: Vigil.Test.Malware.UNOFFICIAL FOUND', known)).toEqual({
      path: '/m/a: b.txt',
      result: { status: 'infected', signature: 'Vigil.Test.Malware.UNOFFICIAL' },
    });
    expect(parseResultLine('/m/c.txt: OK', known)).toEqual({ path: '/m/c.txt', result: { status: 'clean' } });
    expect(parseResultLine('/m/c.txt: Empty file', known)?.result.status).toBe('clean');
    expect(parseResultLine("/m/c.txt: Can't access file", known)?.result.status).toBe('error');
    expect(parseResultLine('/m/other: OK', known)).toBeNull();
    expect(parseResultLine('----------- SCAN SUMMARY -----------', known)).toBeNull();
  });
});
