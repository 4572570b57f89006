import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgentProcess, startConsoleProcess, type ConsoleHandle } from '../helpers/fleet.js';
import { openFeed } from '../helpers/feed-client.js';
import { kill, REPO, runCli, stopAll, tempDir, waitUntil, type Proc } from '../helpers/processes.js';

/**
 * Console and agent as two real processes on loopback: enrollment, authenticated link,
 * status through the API and the dashboard feed, a policy pushed with the CLI and acked,
 * offline detection (process killed, and a frozen process that stops answering pings).
 */
let dir: ReturnType<typeof tempDir>;
let consoleProc: ConsoleHandle;
let agent: Proc;
let deviceId: string;

beforeAll(async () => {
  dir = tempDir();
  consoleProc = await startConsoleProcess(join(dir.path, 'console'), { pingSeconds: 1 });
});
afterAll(async () => {
  await stopAll();
  dir.remove();
});

const device = async () => (await consoleProc.api(`/api/v1/devices/${deviceId}`)).body.device;

describe('console and agent on loopback', () => {
  it('enrolls, connects and reports status visible through the API and the dashboard feed', async () => {
    const feed = await openFeed(consoleProc.url, consoleProc.token);
    agent = startAgentProcess(join(dir.path, 'agent'), consoleProc.url);
    [, deviceId] = (await agent.waitFor(/running as device ([0-9a-f-]{36})/)) as RegExpMatchArray as [string, string];
    const fromFeed = await feed.waitFor((m) => m.kind === 'device' && m.device.id === deviceId && m.device.online && m.device.status);
    expect(fromFeed.device.status.agentVersion).toBe(JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).version);
    const d = await device();
    expect(d).toMatchObject({ id: deviceId, online: true, revoked: false });
    expect(d.status.os.platform).toBe('linux');
    expect(d.status.uptimeSeconds).toBeGreaterThan(0);
    expect(typeof d.status.hostname).toBe('string');
    feed.close();
    // The device key stays on the device, private to root/the service account.
    const keyFile = join(dir.path, 'agent', 'device-key.pem');
    expect(existsSync(keyFile)).toBe(true);
    expect(readFileSync(keyFile, 'utf8')).toMatch(/PRIVATE KEY/);
    const { statSync } = await import('node:fs');
    expect(statSync(keyFile).mode & 0o077).toBe(0);
  });

  it('delivers a policy pushed with the CLI live, and the agent acks the version it applied', async () => {
    const result = await runCli(['policy', 'push', join(REPO, 'policies/secondary-default.json')], {
      VIGIL_CONSOLE_URL: consoleProc.url,
      VIGIL_TOKEN: consoleProc.token,
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const version = Number(/as version (\d+)/.exec(result.stdout)![1]);
    expect(result.stdout).toMatch(/sent live to 1 connected device/);
    await waitUntil(async () => (await device()).policyVersion === version, 10_000);
    await agent.waitFor(new RegExp(`applied policy.*"version":${version}`), 5000, 'stderr');
    const stored = JSON.parse(readFileSync(join(dir.path, 'agent', 'policy.json'), 'utf8'));
    expect(stored.payload.version).toBe(version);
    const applied = await waitUntil(async () => {
      const { events } = (await consoleProc.api(`/api/v1/events?device=${deviceId}&type=policy.applied`)).body;
      return events.length ? events : null;
    }, 5000);
    expect(applied[0].event.data).toEqual({ version });
  });

  it('gives a device that was offline the current policy when it reconnects', async () => {
    await kill(agent);
    await waitUntil(async () => !(await device()).online, 5000);
    const result = await runCli(['policy', 'push', join(REPO, 'policies/lab-strict.json')], {
      VIGIL_CONSOLE_URL: consoleProc.url,
      VIGIL_TOKEN: consoleProc.token,
    });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/sent live to 0 connected device/);
    const version = Number(/as version (\d+)/.exec(result.stdout)![1]);
    agent = startAgentProcess(join(dir.path, 'agent'), consoleProc.url);
    await waitUntil(async () => (await device()).policyVersion === version, 15_000);
  });

  it('marks a device offline when its process dies, and when it stops answering pings', async () => {
    await waitUntil(async () => (await device()).online, 10_000);
    await kill(agent, 'SIGKILL');
    await waitUntil(async () => !(await device()).online, 5000);

    agent = startAgentProcess(join(dir.path, 'agent'), consoleProc.url);
    await waitUntil(async () => (await device()).online, 15_000);
    // A live agent is pinged only when the console has neither heard from it nor written to it
    // since its last visit: every other second here (pings every second), and it never falls silent.
    const hubStats = async () => (await consoleProc.api('/api/v1/stats')).body.hub;
    const before = await hubStats();
    await new Promise((resolve) => setTimeout(resolve, 6000));
    const after = await hubStats();
    expect(after.pingsSkipped - before.pingsSkipped).toBeGreaterThanOrEqual(2);
    expect(after.pingsSent - before.pingsSent).toBeGreaterThanOrEqual(2);
    expect(after.missedPongs).toBe(before.missedPongs);
    expect(agent.stderr).not.toMatch(/console fell silent/);
    expect((await device()).online).toBe(true);
    // A frozen agent keeps its TCP connection open but answers no pings (like a laptop lid closed
    // mid-connection); the console must notice on its own.
    agent.child.kill('SIGSTOP');
    try {
      // Three ping intervals at most (agent-link/keepalive.ts), and the offline record.
      await waitUntil(async () => !(await device()).online, 8000);
      expect(consoleProc.proc.stderr).toMatch(/missed a pong/);
      expect((await hubStats()).missedPongs).toBeGreaterThanOrEqual(1);
    } finally {
      agent.child.kill('SIGCONT');
    }
    await waitUntil(async () => (await device()).online, 15_000);
  });
});
