import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { REPO } from '../helpers/processes.js';

/**
 * The CI workflow for the code host's Windows and macOS runners cannot run here; this checks it
 * parses (js-yaml, the parser electron-builder itself uses) and has the jobs the docs promise.
 */
interface Step {
  uses?: string;
  run?: string;
  name?: string;
  with?: Record<string, unknown>;
  env?: Record<string, unknown>;
}
interface Job {
  'runs-on': string;
  steps: Step[];
  needs?: string;
  container?: unknown;
}
const workflow = yaml.load(readFileSync(join(REPO, '.github/workflows/ci.yml'), 'utf8')) as { on: Record<string, unknown>; jobs: Record<string, Job> };
const runs = (job: Job) => job.steps.flatMap((s) => (s.run ? [s.run.trim()] : [])).join('\n');

describe('.github/workflows/ci.yml', () => {
  it('runs on pushes and pull requests, with read-only repository access', () => {
    expect(Object.keys(workflow.on)).toEqual(expect.arrayContaining(['push', 'pull_request']));
    expect((workflow as unknown as { permissions: unknown }).permissions).toEqual({ contents: 'read' });
  });

  it('has a Linux job running .ci/run and Windows and macOS jobs on their runners', () => {
    expect(workflow.jobs.linux?.['runs-on']).toBe('ubuntu-latest');
    expect(runs(workflow.jobs.linux!)).toBe('.ci/run');
    expect(workflow.jobs.windows?.['runs-on']).toBe('windows-latest');
    expect(workflow.jobs.macos?.['runs-on']).toBe('macos-latest');
  });

  it.each(['windows', 'macos'])('%s: checkout, Node 20, npm ci, build, the suite, then a packaged build', (name) => {
    const job = workflow.jobs[name]!;
    expect(job.steps[0]?.uses).toMatch(/^actions\/checkout@v\d+$/);
    const node = job.steps.find((s) => s.uses?.startsWith('actions/setup-node@'));
    expect(node?.with?.['node-version']).toBe(20);
    const commands = job.steps.map((s) => s.run ?? '');
    const order = ['npm ci', 'npm run build', 'npx vitest run', 'node installer/stage-service.mjs'].map((c) => commands.indexOf(c));
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    const build = commands.findIndex((c) => c.startsWith('npx electron-builder'));
    expect(build).toBeGreaterThan(order.at(-1)!);
    expect(commands[build]).toMatch(name === 'windows' ? /--win nsis msiWrapped/ : /--mac pkg/);
    expect(job.steps.some((s) => s.uses?.startsWith('actions/upload-artifact@'))).toBe(true);
  });

  it.each(['windows', 'macos'])(
    "%s: builds the native addons with the runner's compiler before the suite, and a failed peercred build fails the job",
    (name) => {
      const job = workflow.jobs[name]!;
      const commands = job.steps.map((s) => s.run ?? '');
      const addons = commands.indexOf('node scripts/prepare.mjs');
      expect(addons).toBeGreaterThan(commands.indexOf('npm run build'));
      expect(addons).toBeLessThan(commands.indexOf('npx vitest run'));
      expect(job.steps[addons]!.env).toEqual({ VIGIL_REQUIRE_PEERCRED: '1' });
    },
  );

  it('every step either uses an action or runs a command', () => {
    for (const [name, job] of Object.entries(workflow.jobs)) {
      expect(job.steps.length, name).toBeGreaterThan(0);
      for (const step of job.steps) expect(Boolean(step.uses) !== Boolean(step.run), `${name}: ${JSON.stringify(step)}`).toBe(true);
    }
  });
});
