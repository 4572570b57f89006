import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Our machines cannot download virus definitions, so tests build a tiny database in ClamAV's
 * documented custom formats: an .hdb line (MD5:size:name) for one exact "malware" file, and an
 * .ndb body pattern that matches any file containing the marker.
 */
export const TEST_MALWARE = Buffer.from('X5O-VIGIL-TEST-MALWARE-SAMPLE: harmless bytes a test database calls a virus\n');
const MARKER = 'VIGIL-PATTERN-MARKER-7f3a';
export const markedContent = (text: string) => Buffer.from(`${text}\n${MARKER}\n`);

export function makeTestDatabase(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const md5 = createHash('md5').update(TEST_MALWARE).digest('hex');
  writeFileSync(join(dir, 'vigil-test.hdb'), `${md5}:${TEST_MALWARE.length}:Vigil.Test.Malware\n`);
  writeFileSync(join(dir, 'vigil-test.ndb'), `Vigil.Test.Pattern:0:*:${Buffer.from(MARKER).toString('hex')}\n`);
  return dir;
}
