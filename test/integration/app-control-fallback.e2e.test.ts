import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, chmodSync, copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mountPrivateTmpfs, onlyBelow, REPO_ROOT, sha256File, type PrivateMount } from '../../bench/exec-fixture.js';
import { startAgentProcess, startConsoleProcess, type ConsoleHandle } from '../helpers/fleet.js';
import { stopAll, tempDir, waitUntil, type Proc } from '../helpers/processes.js';
import { skipReason } from '../helpers/requirements.js';

/**
 * The fallback watcher end to end: a real console, a real agent process in user mode (so no
 * pre-exec gate), policies pushed over the API. The agent reports `fallback` with the watcher's
 * kind, kills an unapproved program `nobody` starts from a private tmpfs, and the console gets an
 * `app.killed` event with how long it lived; the next policy allows it by hash, live. The policy
 * confines its default deny to that tmpfs (shared machine). Everything is stopped in afterAll.
 */
function unavailable(): string | null {
  if (process.platform !== 'linux') return 'Linux only';
  if (process.getuid?.() !== 0) return 'needs root (programs started as nobody, a private tmpfs)';
  if (!existsSync(join(REPO_ROOT, 'native/procwatch/build/Release/vigil_procwatch.node'))) return 'native/procwatch is not built';
  return null;
}
const skip = skipReason('app-control fallback e2e', unavailable());

describe.skipIf(skip !== null)('application control without a pre-exec gate: the fallback watcher in the agent', () => {
  let dir: ReturnType<typeof tempDir>;
  let mount: PrivateMount;
  let consoleProc: ConsoleHandle;
  let agent: Proc;
  let deviceId: string;
  const started: ChildProcess[] = [];

  const push = async (document: unknown) => {
    const r = await consoleProc.api('/api/v1/policies', { method: 'POST', body: JSON.stringify({ policy: document }) });
    expect(r.status).toBe(201);
    return r.body.version as number;
  };
  const device = async () => (await consoleProc.api(`/api/v1/devices/${deviceId}`)).body.device;
  const runAsNobody = (path: string) => {
    const child = spawn(path, ['30'], { stdio: 'ignore', uid: 65534, gid: 65534 });
    started.push(child);
    return { child, exit: new Promise<string | number | null>((r) => child.once('exit', (code, signal) => r(signal ?? code))) };
  };

  beforeAll(async () => {
    dir = tempDir();
    mount = mountPrivateTmpfs(16);
    consoleProc = await startConsoleProcess(join(dir.path, 'console'));
    agent = startAgentProcess(join(dir.path, 'agent'), consoleProc.url, {}, ['--user-mode']);
    [, deviceId] = (await agent.waitFor(/running as device ([0-9a-f-]{36})/)) as unknown as [string, string];
  });
  afterAll(async () => {
    for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await stopAll();
    mount?.unmount();
    dir?.remove();
  });

  it('reports fallback with the watcher, kills an unapproved program and reports how long it lived; a new policy allows it live', async () => {
    const game = join(mount.path, 'game');
    copyFileSync('/usr/bin/sleep', game);
    appendFileSync(game, Buffer.alloc(16, 9));
    chmodSync(game, 0o755);
    const applications = { mode: 'enforce', defaultAction: 'block', rules: onlyBelow(mount.path) };
    const v1 = await push({ format: 'vigil-policy/1', name: 'fallback', applications });
    await waitUntil(
      async () => (await device()).policyVersion === v1 && (await device()).status?.appControl?.enforcement === 'fallback',
      15_000,
      () => 'status fallback',
    );
    expect((await device()).status.appControl).toMatchObject({
      enforcement: 'fallback',
      mode: 'enforce',
      detail: expect.stringMatching(/^proc-connector watcher: .*No pre-exec gate: user mode/),
    });

    const run = runAsNobody(game);
    expect(await run.exit).toBe('SIGKILL');
    const killed = async () =>
      ((await consoleProc.api(`/api/v1/events?type=app.killed&device=${deviceId}`)).body.events as { event: { data: Record<string, unknown> } }[]).map(
        (e) => e.event.data,
      );
    await waitUntil(
      async () => (await killed()).length > 0,
      15_000,
      () => 'app.killed at the console',
    );
    const [event] = await killed();
    expect(event).toMatchObject({
      name: 'game',
      path: game,
      sha256: sha256File(game),
      user: 'nobody',
      mode: 'enforce',
      reason: 'path-block',
      watcher: 'proc-connector',
      signer: 'unknown',
    });
    expect(event!.livedMs).toBeGreaterThan(0);
    expect(event!.livedMs).toBeLessThan(30_000);

    const v2 = await push({
      format: 'vigil-policy/1',
      name: 'fallback',
      applications: { ...applications, rules: [...applications.rules, { kind: 'sha256', sha256: sha256File(game), action: 'allow' }] },
    });
    await waitUntil(
      async () => (await device()).policyVersion === v2,
      15_000,
      () => 'policy 2 applied',
    );
    const again = runAsNobody(game);
    await new Promise((r) => setTimeout(r, 1500));
    expect(again.child.exitCode).toBeNull();
    expect(again.child.signalCode).toBeNull();
  });
});
