import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateEd25519KeyPair } from '../../src/shared/node/crypto.js';
import type { PolicyBundlePayload } from '../../src/shared/policy.js';
import { signPolicyBundle } from '../../src/shared/node/policy-verify.js';
import { startAgentProcess, startConsoleProcess, type ConsoleHandle } from '../helpers/fleet.js';
import { startImpostorConsole, type ImpostorConsole } from '../helpers/impostor-console.js';
import { kill, REPO, runCli, stopAll, tempDir, waitUntil, type Proc } from '../helpers/processes.js';

/**
 * The agent as a real process facing a console that sends bad bundles and garbage. It must
 * reject each bundle, keep enforcing its last good one, report every rejection, and stay up.
 */
let dir: ReturnType<typeof tempDir>;
let consoleProc: ConsoleHandle;
let agent: Proc;
let impostor: ImpostorConsole;
let deviceId: string;
let heldVersion: number;

const agentDir = () => join(dir.path, 'agent');
const heldOnDisk = () => JSON.parse(readFileSync(join(agentDir(), 'policy.json'), 'utf8')).payload.version as number;
const agentAlive = () => expect(agent.child.exitCode).toBeNull();

function payload(version: number, overrides: Partial<PolicyBundlePayload> = {}): PolicyBundlePayload {
  const now = Date.now();
  return {
    kind: 'vigil.policy-bundle',
    version,
    issuedAt: new Date(now).toISOString(),
    expiresAt: new Date(now + 86400_000).toISOString(),
    policy: { format: 'vigil-policy/1', name: `impostor v${version}`, agent: { heartbeatSeconds: 30, statusSeconds: 60 } },
    ...overrides,
  };
}

beforeAll(async () => {
  dir = tempDir();
  consoleProc = await startConsoleProcess(join(dir.path, 'console'));
  agent = startAgentProcess(agentDir(), consoleProc.url);
  [, deviceId] = (await agent.waitFor(/running as device ([0-9a-f-]{36})/)) as unknown as [string, string];
  // Three real pushes of three different documents (an unchanged push publishes nothing): the
  // agent ends up holding version 3 as its last good bundle.
  const base = JSON.parse(readFileSync(join(REPO, 'policies/secondary-default.json'), 'utf8'));
  for (let i = 0; i < 3; i++) {
    const file = join(dir.path, `policy-${i}.json`);
    writeFileSync(file, JSON.stringify({ ...base, description: `revision ${i + 1}` }));
    const r = await runCli(['policy', 'push', file], {
      VIGIL_CONSOLE_URL: consoleProc.url,
      VIGIL_TOKEN: consoleProc.token,
    });
    expect(r.code).toBe(0);
  }
  await waitUntil(async () => (await consoleProc.api(`/api/v1/devices/${deviceId}`)).body.device.policyVersion === 3, 10_000);
  heldVersion = heldOnDisk();
  expect(heldVersion).toBe(3);
  await consoleProc.stop();
  impostor = await startImpostorConsole(join(dir.path, 'console'), consoleProc.port);
  await impostor.waitForAuth();
});
afterAll(async () => {
  await impostor?.close().catch(() => undefined);
  await stopAll();
  dir.remove();
});

const rejections = () =>
  impostor.received
    .filter((m) => m.type === 'events')
    .flatMap((m) => m.events)
    .filter((e: any) => e.type === 'policy.rejected');

describe('agent against bad policy bundles', () => {
  it('rejects tampered, foreign-key, older and expired bundles, keeps its last good bundle and reports each', async () => {
    const ws = impostor.socket()!;
    const send = (bundle: unknown) => ws.send(JSON.stringify({ v: 1, type: 'policy', bundle }));
    const tampered = signPolicyBundle(payload(10), impostor.privateKey, impostor.publicKey);
    tampered.payload.policy.name = 'tampered after signing';
    send(tampered);
    const stranger = generateEd25519KeyPair();
    send(signPolicyBundle(payload(11), stranger.privateKeyPem, stranger.publicKey));
    send(signPolicyBundle(payload(2), impostor.privateKey, impostor.publicKey));
    send(signPolicyBundle(payload(12, { expiresAt: new Date(Date.now() - 60_000).toISOString() }), impostor.privateKey, impostor.publicKey));
    send({ payload: 'not a bundle' });

    await waitUntil(
      () => rejections().length >= 5,
      10_000,
      () => JSON.stringify(impostor.received).slice(0, 1000),
    );
    const reasons = rejections().map((e: any) => [e.data.version, e.data.reason, e.data.keptVersion]);
    expect(reasons).toEqual([
      [10, 'bad-signature', 3],
      [11, 'unknown-signer', 3],
      [2, 'rollback', 3],
      [12, 'expired', 3],
      [null, 'malformed', 3],
    ]);
    expect(heldOnDisk()).toBe(3);
    expect(impostor.received.filter((m) => m.type === 'policy.ack')).toEqual([]);
    agentAlive();
  });

  it('survives garbage from the console and still applies the next good bundle', async () => {
    const ws = impostor.socket()!;
    ws.send('{ not json');
    ws.send(JSON.stringify({ v: 1, type: 'self-destruct' }));
    ws.send(JSON.stringify({ v: 1, type: 'events.ack', seqs: 'all' }));
    ws.send(Buffer.from([0xde, 0xad, 0xbe, 0xef]), { binary: true });
    ws.send(JSON.stringify({ v: 1, type: 'challenge', nonce: 'x'.repeat(43), consoleKeyId: '0000000000000000', serverTime: new Date().toISOString() }));
    ws.send(JSON.stringify({ v: 1, type: 'events.ack', seqs: [999_999] }));
    ws.send(`{"v":${'['.repeat(100_000)}${']'.repeat(100_000)},"type":"policy"}`);
    await agent.waitFor(/ignored a bad frame from the console.*self-destruct/, 5000, 'stderr');
    agentAlive();

    // An oversized frame makes the agent drop the connection (1009); it comes back on its own.
    const helloCount = impostor.received.filter((m) => m.type === 'hello').length;
    ws.send(JSON.stringify({ v: 1, type: 'error', code: 'internal', message: 'x'.repeat(400 * 1024) }));
    await waitUntil(() => impostor.received.filter((m) => m.type === 'hello').length > helloCount, 15_000);
    agentAlive();
    const hello = impostor.received.filter((m) => m.type === 'hello').at(-1);
    expect(hello.policyVersion).toBe(3);

    impostor.socket()!.send(JSON.stringify({ v: 1, type: 'policy', bundle: signPolicyBundle(payload(13), impostor.privateKey, impostor.publicKey) }));
    await waitUntil(() => impostor.received.some((m) => m.type === 'policy.ack' && m.version === 13), 10_000);
    expect(heldOnDisk()).toBe(13);
  });

  it('reports the rejections to the real console once it is back', async () => {
    await impostor.close();
    consoleProc = await startConsoleProcess(join(dir.path, 'console'), { port: consoleProc.port });
    const stored = await waitUntil(async () => {
      const { events } = (await consoleProc.api(`/api/v1/events?device=${deviceId}&type=policy.rejected`)).body;
      return events.length >= 5 ? events : null;
    }, 20_000);
    expect(stored.map((e: any) => e.event.data.reason).sort()).toEqual(['bad-signature', 'expired', 'malformed', 'rollback', 'unknown-signer']);
  });

  it('numbers its policy above the version devices hold, so a restored console is not refused as a rollback', async () => {
    // The device came back holding the impostor's 13: the console signs the device's group set
    // again above it at once (its own content, not the impostor's), and numbers later pushes above that.
    await waitUntil(() => heldOnDisk() === 14, 15_000);
    expect(JSON.parse(readFileSync(join(agentDir(), 'policy.json'), 'utf8')).payload.policy.description).toBe('revision 3');
    expect(consoleProc.proc.stderr).toMatch(/holds a newer policy version/);
    const r = await runCli(['policy', 'push', join(REPO, 'policies/lab-strict.json')], { VIGIL_CONSOLE_URL: consoleProc.url, VIGIL_TOKEN: consoleProc.token });
    expect(r.stdout).toMatch(/as version 15/);
    await waitUntil(() => heldOnDisk() === 15, 10_000);
  });

  it('drops the bundle a restored console numbered the same as a different one, and takes the reissue', async () => {
    // The device takes a bundle numbered 16 from the impostor (signed with the console key, as a
    // console restored from an old backup could have issued it).
    await consoleProc.stop();
    impostor = await startImpostorConsole(join(dir.path, 'console'), consoleProc.port);
    await impostor.waitForAuth();
    impostor.socket()!.send(JSON.stringify({ v: 1, type: 'policy', bundle: signPolicyBundle(payload(16), impostor.privateKey, impostor.publicKey) }));
    await waitUntil(() => impostor.received.some((m) => m.type === 'policy.ack' && m.version === 16), 10_000);
    await kill(agent);
    await impostor.close();
    // Meanwhile the real console publishes its own, different version 16.
    consoleProc = await startConsoleProcess(join(dir.path, 'console'), { port: consoleProc.port });
    const r = await runCli(['policy', 'push', join(REPO, 'policies/secondary-default.json')], {
      VIGIL_CONSOLE_URL: consoleProc.url,
      VIGIL_TOKEN: consoleProc.token,
    });
    expect(r.stdout).toMatch(/as version 16/);
    agent = startAgentProcess(agentDir(), consoleProc.url);
    await waitUntil(() => heldOnDisk() === 17, 15_000);
    expect(consoleProc.proc.stderr).toMatch(/different bundle under the current version number/);
    expect(JSON.parse(readFileSync(join(agentDir(), 'policy.json'), 'utf8')).payload.policy.name).toBe('Secondary school default');
  });

  it('gives up on a console that falls silent and reconnects', async () => {
    await consoleProc.stop();
    // This console promises a ping every second and never sends one.
    impostor = await startImpostorConsole(join(dir.path, 'console'), consoleProc.port, { pingSeconds: 1 });
    await impostor.waitForAuth();
    const first = impostor.connections();
    await waitUntil(() => impostor.connections() > first, 20_000);
    await agent.waitFor(/console fell silent/, 1000, 'stderr');
    agentAlive();
  });
});
