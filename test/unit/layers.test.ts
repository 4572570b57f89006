import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from '../helpers/processes.js';

/**
 * The layer rules (.dependency-cruiser.cjs, run by `npm run lint`) on a small tree with two
 * deliberately wrong imports: both fail the check, the allowed import does not.
 */
describe('layer rules', () => {
  it('fail on an agent importing the console and on browser-safe shared code importing node:fs', () => {
    const fixture = join(REPO, 'test/fixtures/layers');
    const run = spawnSync(
      process.execPath,
      [join(REPO, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs'), 'src', '--config', join(REPO, '.dependency-cruiser.cjs')],
      {
        cwd: fixture,
        encoding: 'utf8',
      },
    );
    const output = run.stdout + run.stderr;
    expect(run.status, output).not.toBe(0);
    expect(output).toMatch(/agent-not-console-station-cli: src\/agent\/imports-console\.ts → src\/console\/thing\.ts/);
    expect(output).toMatch(/shared-no-node-builtins: src\/shared\/uses-node\.ts → (node:)?fs/);
    expect(output).not.toMatch(/imports-shared\.ts/);
    expect(output).toMatch(/2 dependency violations/);
  });
});
