import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signAup } from '../../src/shared/node/aup-verify.js';
import { generateEd25519KeyPair } from '../../src/shared/node/crypto.js';
import { startAgentProcess, startConsoleProcess, type ConsoleHandle } from '../helpers/fleet.js';
import { startImpostorConsole, type ImpostorConsole } from '../helpers/impostor-console.js';
import { REPO, runCli, stopAll, tempDir, waitUntil, type Proc } from '../helpers/processes.js';

/**
 * A real agent process facing a console (holding the real key) that sends tampered AUP
 * documents and unasked-for or malformed `aup.status` answers. The agent refuses the documents
 * and reports them, keeps the signed AUP it holds, remembers nothing it did not ask, and stays up.
 */
let dir: ReturnType<typeof tempDir>;
let consoleProc: ConsoleHandle;
let agent: Proc;
let impostor: ImpostorConsole;
const agentDir = () => join(dir.path, 'agent');
const held = () => JSON.parse(readFileSync(join(agentDir(), 'aup.json'), 'utf8'));

beforeAll(async () => {
  dir = tempDir();
  consoleProc = await startConsoleProcess(join(dir.path, 'console'));
  const env = { VIGIL_CONSOLE_URL: consoleProc.url, VIGIL_TOKEN: consoleProc.token };
  expect((await runCli(['policy', 'push', join(REPO, 'policies/secondary-default.json')], env)).code).toBe(0);
  expect((await runCli(['aup', 'publish', join(REPO, 'policies/aup/secondary.md'), '--variant', 'secondary'], env)).code).toBe(0);
  agent = startAgentProcess(agentDir(), consoleProc.url);
  // The policy (which says the secondary AUP is needed) and the AUP travel apart: both must have
  // arrived before the real console goes away, or the agent holds an AUP and no policy needing it.
  await agent.waitFor(/applied policy/, 30_000, 'stderr');
  await waitUntil(
    () => existsSync(join(agentDir(), 'aup.json')),
    15_000,
    () => 'the AUP never reached the agent',
  );
  await consoleProc.stop();
  impostor = await startImpostorConsole(join(dir.path, 'console'), consoleProc.port);
  await impostor.waitForAuth();
});
afterAll(async () => {
  await impostor?.close().catch(() => undefined);
  await stopAll();
  dir?.remove();
});

const rejectedAups = () =>
  impostor.received
    .filter((m) => m.type === 'events')
    .flatMap((m) => m.events)
    .filter((e: any) => e.type === 'aup.rejected');

describe('agent against hostile AUP frames', () => {
  it('refuses a tampered AUP and one signed by another key, keeps the signed one, and reports both', async () => {
    const before = held();
    const signed = signAup({ ...before.payload, version: 2, markdown: '# Rules\n\nNew.' }, impostor.privateKey, impostor.publicKey);
    const tampered = structuredClone(signed);
    tampered.payload.markdown = '# Rules\n\nAnything goes.';
    const other = generateEd25519KeyPair();
    const foreign = signAup({ ...before.payload, version: 3 }, other.privateKeyPem, other.publicKey);
    for (const aup of [tampered, foreign]) impostor.socket()!.send(JSON.stringify({ v: 1, type: 'aup', aup }));
    await waitUntil(
      () => rejectedAups().length >= 2,
      15_000,
      () => JSON.stringify(impostor.received.slice(-5)),
    );
    expect(rejectedAups().map((e: any) => e.data.reason)).toEqual(['bad-signature', 'bad-signature']);
    expect(held()).toEqual(before);
    expect(agent.child.exitCode).toBeNull();
  });

  it('ignores unasked-for and malformed answers about acceptances, and stays up', async () => {
    const hash = 'c'.repeat(64);
    const socket = impostor.socket()!;
    socket.send(JSON.stringify({ v: 1, type: 'aup.status', user: 'mallory', aupHash: hash, accepted: true, acceptedAt: null, refused: null }));
    socket.send(JSON.stringify({ v: 1, type: 'aup.status', user: 'x'.repeat(100_000), aupHash: hash, accepted: true, acceptedAt: null, refused: null }));
    socket.send(JSON.stringify({ v: 1, type: 'aup.status', user: 'mallory', aupHash: hash, accepted: 'yes' }));
    socket.send('{"v":1,"type":"aup.status","user":');
    await agent.waitFor(/ignored a bad frame from the console/, 10_000, 'stderr');
    // Still running, and the unasked-for "yes" about mallory was not remembered.
    expect(agent.child.exitCode).toBeNull();
    const status = await runCli(['agent', 'aup', 'status', '--data-dir', agentDir(), '--user', 'mallory']);
    expect(status.stdout).toMatch(/mallory: AUP needed \(not-accepted\)/);
  });
});
