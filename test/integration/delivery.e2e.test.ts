import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgentProcess, startConsoleProcess, type ConsoleHandle } from '../helpers/fleet.js';
import { kill, runCli, stopAll, tempDir, waitUntil, type Proc } from '../helpers/processes.js';

/**
 * The durable outbox end to end: events are stored at the console exactly once however the
 * console or the agent is killed along the way.
 */
let dir: ReturnType<typeof tempDir>;
let consoleProc: ConsoleHandle;
let agent: Proc;
let port: number;

const consoleDb = () => join(dir.path, 'console', 'console.db');
const agentDir = () => join(dir.path, 'agent');

/** Reads the console's database directly, as a second process would. */
function counts(note: string): { rows: number; distinct: number } {
  const db = new Database(consoleDb(), { readonly: true, fileMustExist: true });
  try {
    return db
      .prepare(
        `SELECT COUNT(*) AS rows, COUNT(DISTINCT json_extract(body, '$.data.n')) AS "distinct"
         FROM events WHERE type = 'diagnostic.test' AND json_extract(body, '$.data.note') = ?`,
      )
      .get(note) as { rows: number; distinct: number };
  } finally {
    db.close();
  }
}
function outboxSize(): number {
  const db = new Database(join(agentDir(), 'outbox.db'), { readonly: true });
  try {
    return (db.prepare('SELECT COUNT(*) AS n FROM outbox').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

beforeAll(async () => {
  dir = tempDir();
  consoleProc = await startConsoleProcess(join(dir.path, 'console'));
  port = consoleProc.port;
  agent = startAgentProcess(agentDir(), consoleProc.url);
  await agent.waitFor(/running as device/);
  await agent.waitFor(/connected to console/, 10_000, 'stderr');
});
afterAll(async () => {
  await stopAll();
  dir.remove();
});

describe('exactly-once delivery', () => {
  it('delivers every event exactly once when the console is killed mid-stream and restarted', async () => {
    const total = 30_000;
    const emitted = await runCli(['agent', 'emit', '--data-dir', agentDir(), '--count', String(total), '--note', 'console-crash']);
    expect(emitted.code).toBe(0);
    // Kill the console with SIGKILL as soon as part of the stream has been stored.
    const atKill = await waitUntil(() => {
      const c = counts('console-crash');
      return c.rows > 0 ? c : null;
    }, 20_000);
    await consoleProc.stop('SIGKILL');
    const stored = counts('console-crash').rows;
    expect(stored, 'the kill must land mid-stream for this test to mean anything').toBeLessThan(total);
    expect(atKill.rows).toBeGreaterThan(0);

    consoleProc = await startConsoleProcess(join(dir.path, 'console'), { port });
    await waitUntil(
      () => counts('console-crash').rows === total,
      60_000,
      () => `stored ${JSON.stringify(counts('console-crash'))}, ${outboxSize()} in the outbox; agent said\n${agent.stderr.slice(-3000)}`,
    );
    expect(counts('console-crash')).toEqual({ rows: total, distinct: total });
    await waitUntil(() => outboxSize() === 0, 10_000);
    // The agent paced its backlog by the console's frame budget: nothing was dropped and resent.
    expect(agent.stderr).not.toMatch(/rate-limited/);
    expect((await consoleProc.api('/api/v1/stats')).body.overBudget.total).toBe(0);
  }, 120_000); // 30,000 events at the agent's paced rate (about 1,600 a second) through a console kill, on a loaded runner

  it('keeps queued events through a SIGKILL of the agent and delivers them after restart', async () => {
    await consoleProc.stop('SIGTERM');
    const queued = 500;
    const emitted = await runCli(['agent', 'emit', '--data-dir', agentDir(), '--count', String(queued), '--note', 'agent-crash']);
    expect(emitted.code).toBe(0);
    await kill(agent, 'SIGKILL');
    expect(outboxSize()).toBeGreaterThanOrEqual(queued);
    expect(counts('agent-crash').rows).toBe(0);

    consoleProc = await startConsoleProcess(join(dir.path, 'console'), { port });
    agent = startAgentProcess(agentDir(), consoleProc.url);
    await waitUntil(
      () => counts('agent-crash').rows === queued,
      30_000,
      () => `stored ${JSON.stringify(counts('agent-crash'))}`,
    );
    expect(counts('agent-crash')).toEqual({ rows: queued, distinct: queued });
    await waitUntil(() => outboxSize() === 0, 10_000);
    // Nothing from the first test was delivered twice either.
    expect(counts('console-crash')).toEqual({ rows: 30_000, distinct: 30_000 });
  });
});
