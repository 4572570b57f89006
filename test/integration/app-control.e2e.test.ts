import { spawn } from 'node:child_process';
import { appendFileSync, chmodSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { skipReason } from '../helpers/requirements.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execGateUnavailable, execProgram, mountPrivateTmpfs, sha256File, type PrivateMount } from '../../bench/exec-fixture.js';
import { startAgentProcess, startConsoleProcess, type ConsoleHandle } from '../helpers/fleet.js';
import { runCli, stopAll, tempDir, waitUntil, type Proc } from '../helpers/processes.js';

/**
 * Application control end to end, as root, with real fanotify: a real console process, a real
 * agent process hosting the gate, policies pushed over the API and CLI. The agent marks only a
 * private tmpfs this file mounts (named in the policy); everything started here is killed and
 * the tmpfs unmounted in afterAll.
 */
const unavailable = skipReason('app-control e2e', execGateUnavailable());

describe.skipIf(unavailable !== null)('application control through console and agent (real fanotify)', () => {
  let dir: ReturnType<typeof tempDir>;
  let mount: PrivateMount;
  let consoleProc: ConsoleHandle;
  let agent: Proc;
  let deviceId: string;
  const TRUE_SHA = sha256File('/usr/bin/true');

  const place = (name: string, from: string) => {
    const path = join(mount.path, name);
    copyFileSync(from, path);
    chmodSync(path, 0o755);
    return path;
  };
  const policy = (name: string, applications: Record<string, unknown>) => ({
    format: 'vigil-policy/1',
    name,
    applications: { linuxMarks: [mount.path], ...applications },
  });
  const push = async (document: unknown) => {
    const r = await consoleProc.api('/api/v1/policies', { method: 'POST', body: JSON.stringify({ policy: document }) });
    expect(r.status).toBe(201);
    return r.body.version as number;
  };
  const device = async () => (await consoleProc.api(`/api/v1/devices/${deviceId}`)).body.device;
  const applied = (version: number) =>
    waitUntil(
      async () => (await device()).policyVersion === version,
      15_000,
      () => `device to apply policy ${version}`,
    );
  const events = async (type: string) =>
    (await consoleProc.api(`/api/v1/events?type=${type}&device=${deviceId}`)).body.events.map((e: { event: unknown }) => e.event) as {
      data: Record<string, unknown>;
    }[];
  const cli = (args: string[]) => runCli(args, { VIGIL_CONSOLE_URL: consoleProc.url, VIGIL_TOKEN: consoleProc.token });

  beforeAll(async () => {
    dir = tempDir();
    mount = mountPrivateTmpfs();
    consoleProc = await startConsoleProcess(join(dir.path, 'console'));
    agent = startAgentProcess(join(dir.path, 'agent'), consoleProc.url);
    [, deviceId] = (await agent.waitFor(/running as device ([0-9a-f-]{36})/)) as unknown as [string, string];
  });
  afterAll(async () => {
    await stopAll(); // the agent's gate dies with it, releasing every mark
    mount?.unmount();
    dir?.remove();
  });

  it('a policy pushed from the console changes decisions live, without restarting the agent', async () => {
    const v1 = await push(policy('lockdown', { mode: 'enforce', defaultAction: 'block' }));
    await applied(v1);
    await waitUntil(
      async () => (await device()).status?.appControl?.enforcement === 'pre-exec',
      15_000,
      () => 'status pre-exec',
    );
    expect((await device()).status.appControl).toEqual({ enforcement: 'pre-exec', mode: 'enforce', detail: null, marks: [mount.path] });

    const tool = place('tool', '/usr/bin/true');
    expect(execProgram(tool).error).toBe('EPERM');
    expect(execProgram('/usr/bin/true').code).toBe(0); // outside the marked mount: untouched
    const [blocked] = await waitUntil(async () => {
      const found = await events('app.blocked');
      return found.length ? found : null;
    });
    expect(blocked!.data).toMatchObject({ name: 'tool', path: tool, sha256: TRUE_SHA, signer: 'unknown', user: 'root', mode: 'enforce', reason: 'default' });

    const pid = agent.child.pid;
    const v2 = await push(
      policy('allow true', { mode: 'enforce', defaultAction: 'block', rules: [{ kind: 'sha256', sha256: TRUE_SHA, action: 'allow', id: 'true' }] }),
    );
    await applied(v2);
    expect(execProgram(tool)).toMatchObject({ code: 0, error: null });

    // Monitor mode: the unknown program runs and a would-block is reported.
    const v3 = await push(policy('monitor', { mode: 'monitor', defaultAction: 'block' }));
    await applied(v3);
    const echo = place('echo-tool', '/usr/bin/echo');
    expect(execProgram(echo).code).toBe(0);
    await waitUntil(async () => (await events('app.would-block')).some((e) => e.data.path === echo));
    expect(agent.child.pid).toBe(pid);
    expect(agent.child.exitCode).toBeNull();
  });

  it('request -> approve -> the same binary runs; a declined request changes nothing', async () => {
    const v = await push(policy('lockdown', { mode: 'enforce', defaultAction: 'block' }));
    await applied(v);
    const echo = place('echo-again', '/usr/bin/echo');
    expect(execProgram(echo).error).toBe('EPERM');

    const asked = await runCli(['request-app', echo, '--reason', 'needed for my science homework', '--data-dir', join(dir.path, 'agent')]);
    expect(asked.code, asked.stderr).toBe(0);
    const request = await waitUntil(async () =>
      (await consoleProc.api('/api/v1/app-requests?status=pending')).body.requests.find((r: { path: string }) => r.path === echo),
    );
    expect(request).toMatchObject({
      deviceId,
      name: 'echo-again',
      sha256: sha256File('/usr/bin/echo'),
      signer: 'unknown',
      user: 'root',
      reason: 'needed for my science homework',
    });

    const listed = await cli(['app-request', 'list', '--status', 'pending']);
    expect(listed.stdout).toContain(request.id);
    const bySigner = await consoleProc.api(`/api/v1/app-requests/${request.id}/approve`, { method: 'POST', body: JSON.stringify({ by: 'signer' }) });
    expect(bySigner).toMatchObject({ status: 400, body: { error: 'no-signer', message: expect.stringMatching(/approve by hash/) } });

    const approved = await cli(['app-request', 'approve', request.id]);
    expect(approved.code, approved.stderr).toBe(0);
    const version = Number(/policy version (\d+)/.exec(approved.stdout)![1]);
    await applied(version);
    expect(execProgram(echo)).toMatchObject({ code: 0, error: null });
    const current = (await consoleProc.api('/api/v1/policies/current')).body.document;
    expect(current.applications.rules).toEqual([expect.objectContaining({ kind: 'sha256', sha256: request.sha256, action: 'allow' })]);

    const again = await consoleProc.api(`/api/v1/app-requests/${request.id}/approve`, { method: 'POST', body: '{}' });
    expect(again.status).toBe(409);

    // A second request, declined: no new policy, still blocked.
    const other = place('other', '/usr/bin/yes');
    expect(execProgram(other).error).toBe('EPERM');
    expect((await runCli(['request-app', other, '--data-dir', join(dir.path, 'agent')])).code).toBe(0);
    const second = await waitUntil(async () =>
      (await consoleProc.api('/api/v1/app-requests?status=pending')).body.requests.find((r: { path: string }) => r.path === other),
    );
    expect((await cli(['app-request', 'decline', second.id, '--note', 'not for school'])).code).toBe(0);
    expect((await consoleProc.api('/api/v1/policies/current')).body.version).toBe(version);
    expect(execProgram(other).error).toBe('EPERM');

    const audit = (await consoleProc.api('/api/v1/audit')).body.audit as { action: string; target: string }[];
    expect(audit.map((a) => a.action)).toEqual(expect.arrayContaining(['app-request.approved', 'app-request.declined', 'policy.rule-added']));
    expect(audit.find((a) => a.action === 'app-request.approved')!.target).toBe(`app-request:${request.id}`);
  });

  it("programs no mark can reach — a tmpfs in a pupil's own namespaces, a memfd — are killed by the backstop watcher", async () => {
    // One program of our own (sleep + bytes: a hash nothing else has), blocked by hash; all else allowed.
    const tool = place('backstop-tool', '/usr/bin/sleep');
    appendFileSync(tool, Buffer.alloc(24, 3));
    const hash = sha256File(tool);
    const v = await push(
      policy('backstop', { mode: 'enforce', defaultAction: 'allow', rules: [{ kind: 'sha256', sha256: hash, action: 'block', id: 'no-game' }] }),
    );
    await applied(v);
    expect(execProgram(tool).error).toBe('EPERM'); // on the marked tmpfs: the gate refuses it before it starts

    const asNobody = (command: string, args: string[]) => {
      const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'], uid: 65534, gid: 65534 });
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      return new Promise<{ pid: number; end: string | number | null; stderr: string }>((r) =>
        child.once('exit', (code, signal) => r({ pid: child.pid!, end: signal ?? code, stderr })),
      );
    };
    // nobody's own user and mount namespace, a tmpfs the agent never sees, the program copied there.
    const inNamespace = await asNobody('unshare', ['-rm', 'sh', '-c', 'mount -t tmpfs vigil-pupil-tmpfs /mnt && cp "$0" /mnt/game && exec /mnt/game 30', tool]);
    expect(inNamespace.end, inNamespace.stderr).toBe('SIGKILL');
    // A memfd started with fexecve.
    const script = `import os; fd = os.memfd_create('game', 0); os.write(fd, open(${JSON.stringify(tool)}, 'rb').read()); os.execve(fd, ['game', '30'], {})`;
    const fromMemfd = await asNobody('/usr/bin/python3', ['-c', script]);
    expect(fromMemfd.end, fromMemfd.stderr).toBe('SIGKILL');

    const killed = await waitUntil(async () => {
      const found = (await events('app.killed')).filter((e) => e.data.sha256 === hash);
      return found.length >= 2 ? found : null;
    });
    for (const event of killed!)
      expect(event.data).toMatchObject({ user: 'nobody', reason: 'hash-block', ruleId: 'no-game', watcher: 'proc-connector', mode: 'enforce' });
    expect(killed!.map((e) => e.data.path)).toEqual(expect.arrayContaining([expect.stringMatching(/^\/memfd:game/)]));
  });
});
