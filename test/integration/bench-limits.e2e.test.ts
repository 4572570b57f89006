import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { agentLimitProblem, agentsThatFit, FILES_PER_PROCESS, openFileLimit } from '../../bench/open-files.js';
import { REPO } from '../helpers/processes.js';
import { skipReason } from '../helpers/requirements.js';

/**
 * bench:console at this machine's limits: asked for more agents than the open-file limit lets
 * it connect, it says so before starting anything (it used to crash halfway with an unhandled
 * "fetch failed"); any other failure is one plain line and a non-zero exit.
 */
const BENCH = join(REPO, 'dist/bench/console-bench.js');
const hasPrlimit = spawnSync('sh', ['-c', 'command -v prlimit'], { stdio: 'ignore' }).status === 0;
const unavailable = skipReason('bench limits', hasPrlimit ? null : 'missing prlimit (util-linux)');

function bench(args: string[], nofile?: number) {
  const command = nofile === undefined ? [process.execPath, BENCH, ...args] : ['prlimit', `--nofile=${nofile}:${nofile}`, process.execPath, BENCH, ...args];
  const run = spawnSync(command[0]!, command.slice(1), { encoding: 'utf8', timeout: 60_000, env: { ...process.env, VIGIL_LOG_LEVEL: 'error' } });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe('benchmark limits', () => {
  it('reads the limit it runs under and says how many agents it allows', () => {
    const limit = openFileLimit();
    expect(limit).not.toBeNull();
    expect(limit!.soft).toBeGreaterThan(0);
    expect(agentsThatFit({ soft: 20_000, hard: 20_000 })).toBe(20_000 - FILES_PER_PROCESS);
    expect(agentLimitProblem(30_000, { soft: 20_000, hard: 20_000 })).toMatch(
      /30000 agents do not fit under this process's open-file limit of 20000 .* at most 19900 agents fit here; the hard limit is the same/,
    );
    expect(agentLimitProblem(30_000, { soft: 1024, hard: 40_000 })).toMatch(
      /raise it with `ulimit -n 40000` \(the hard limit here, which allows 39900 agents\)/,
    );
    expect(agentLimitProblem(500, { soft: 1024, hard: 1024 })).toBeNull();
  });

  it.skipIf(unavailable !== null)('bench:console with more agents than the limit allows refuses at once, saying what the limit allows', () => {
    const run = bench(['--agents', '1000', '--duration', '5'], 256);
    expect(run.status).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(`[bench:console] 1000 agents do not fit under this process's open-file limit of 256 (ulimit -n)`);
    expect(run.stderr).toContain(`at most ${256 - FILES_PER_PROCESS} agents fit here`);
    expect(run.stderr).not.toMatch(/fetch failed|at .*\.js:\d+/); // no crash, no stack
  });

  it('an unhandled failure is one clear line and a non-zero exit, not a stack trace', () => {
    const run = bench(['--agents', 'many']);
    expect(run.status).toBe(1);
    expect(run.stderr.trim()).toBe('[bench:console] failed: --agents must be a number, not "many"');
  });
});
