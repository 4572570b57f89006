import { skipReason } from '../helpers/requirements.js';
import { chmodSync, chownSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { systemBuiltins, untrustworthyBecause } from '../../src/agent/platform/linux/exec-gate.js';
import { tempDirsPerTest } from '../helpers/processes.js';

const tempPath = tempDirsPerTest();
const notRoot = skipReason('exec-builtins', process.getuid?.() === 0 ? null : 'chown to another user needs root');

/** Built-in always-allow paths must be out of every pupil's reach, or they are not built in. */
describe('always-allow paths', () => {
  it('accepts root-owned paths under root-owned ancestors, including a sticky one like /tmp', () => {
    const stat = (modes: Record<string, [number, number]>) => (p: string) => {
      const [uid, mode] = modes[p] ?? [0, 0o755];
      return { uid, mode };
    };
    expect(untrustworthyBecause('/usr', stat({}))).toBeNull();
    expect(untrustworthyBecause('/tmp/agent', stat({ '/tmp': [0, 0o1777] }))).toBeNull();
    expect(untrustworthyBecause('/tmp/agent', stat({ '/tmp/agent': [0, 0o1777] }))).toMatch(/writable by users other than root/);
    expect(untrustworthyBecause('/home/pupil/vigil', stat({ '/home/pupil': [1000, 0o755] }))).toMatch(/owned by uid 1000/);
    expect(untrustworthyBecause('/opt/vigil', stat({ '/opt': [0, 0o777] }))).toMatch(/\/opt is writable/);
    expect(untrustworthyBecause('/opt/vigil', stat({ '/opt/vigil': [0, 0o775] }))).toMatch(/writable/);
  });

  it.skipIf(notRoot !== null)('leaves out real directories a pupil could write to, and says why', () => {
    const base = tempPath();
    const safe = join(base, 'safe');
    const open = join(base, 'open');
    const pupils = join(base, 'pupils');
    for (const d of [safe, open, pupils]) mkdirSync(d);
    chmodSync(base, 0o755);
    chmodSync(safe, 0o755);
    chmodSync(open, 0o777);
    chownSync(pupils, 1000, 1000);
    writeFileSync(join(safe, 'tool'), '');
    const refused: string[] = [];
    const builtins = systemBuiltins([safe, open, pupils], (path, why) => refused.push(`${path}: ${why}`));
    const paths = builtins.map((b) => b.path);
    expect(paths).toContain(safe);
    expect(paths).not.toContain(open);
    expect(paths).not.toContain(pupils);
    expect(paths).toContain('/usr');
    expect(refused.join('\n')).toMatch(/open is writable by users other than root/);
    expect(refused.join('\n')).toMatch(/pupils is owned by uid 1000/);
  });
});

describe('file identities as proof of content', () => {
  it('are not trusted for a file changed in the last two seconds, and are on an ordinary file system', async () => {
    const { identityTrusted } = await import('../../src/agent/platform/linux/exec-gate.js');
    const file = join(tempPath(), 'tool');
    writeFileSync(file, 'x');
    const { openSync, closeSync, statSync } = await import('node:fs');
    const fd = openSync(file, 'r');
    try {
      const ctimeSec = Math.floor(statSync(file).ctimeMs / 1000);
      expect(identityTrusted(fd, { ctimeSec }, ctimeSec + 1)).toBe(false);
      expect(identityTrusted(fd, { ctimeSec }, ctimeSec + 10)).toBe(true);
    } finally {
      closeSync(fd);
    }
  });
});
