import { createHash } from 'node:crypto';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hashFiles, walkTree, type HashResult } from '../../src/shared/node/file-tree.js';
import { tempDirsPerTest } from '../helpers/processes.js';

const temp = tempDirsPerTest();

describe('file tree', () => {
  it('walks regular files only, reports symlinks, and stops at maxFiles', async () => {
    const root = temp();
    mkdirSync(join(root, 'a/b'), { recursive: true });
    writeFileSync(join(root, 'a/b/c.txt'), 'c');
    writeFileSync(join(root, 'top.txt'), 't');
    symlinkSync('/etc', join(root, 'link'));
    const walk = await walkTree(root, { maxFiles: 10 });
    expect(walk.files.map((f) => f.path).sort()).toEqual(['a/b/c.txt', 'top.txt']);
    expect(walk.special).toEqual([{ path: 'link', kind: 'symbolic link' }]);
    expect((await walkTree(root, { maxFiles: 1 })).truncated).toBe(true);
    expect((await walkTree(root, { maxFiles: 10, exclude: new Set(['top.txt']) })).files).toHaveLength(1);
  });

  it('hashes the same on this thread and in worker threads, and reports unreadable files', async () => {
    const root = temp();
    const paths: string[] = [];
    for (let i = 0; i < 40; i++) {
      writeFileSync(join(root, `f${i}`), Buffer.alloc(i * 50_000 + 1, i));
      paths.push(`f${i}`);
    }
    paths.push('missing');
    const expected = paths.slice(0, 40).map((_, i) =>
      createHash('sha256')
        .update(Buffer.alloc(i * 50_000 + 1, i))
        .digest('hex'),
    );
    for (const workers of [0, 1, 3]) {
      const results: HashResult[] = [];
      await hashFiles(root, paths, (i, r) => (results[i] = r), { workers });
      expect(
        results.slice(0, 40).map((r) => ('sha256' in r ? r.sha256 : r.error)),
        `workers=${workers}`,
      ).toEqual(expected);
      expect(results[40]).toMatchObject({ error: expect.stringMatching(/^ENOENT/) });
    }
  });
});
