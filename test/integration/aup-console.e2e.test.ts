import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { receiptForAcceptance } from '../../src/agent/aup/receipts.js';
import { aupHash } from '../../src/shared/node/aup-verify.js';
import { generateEd25519KeyPair } from '../../src/shared/node/crypto.js';
import { PROTOCOL_VERSION } from '../../src/shared/protocol.js';
import { startAgentProcess, startConsoleProcess, type ConsoleHandle } from '../helpers/fleet.js';
import { REPO, runCli, stopAll, tempDir, waitUntil } from '../helpers/processes.js';
import { connectAs, enrollRawDevice, type RawDevice } from '../helpers/raw-device.js';
import { createPrivateKey } from 'node:crypto';

/**
 * AUP versions published at the console reach devices signed; receipts come back as events,
 * are verified against the device key and the exact text, and show in the coverage report.
 */
let dir: ReturnType<typeof tempDir>;
let consoleProc: ConsoleHandle;
let raw: RawDevice;
const env = () => ({ VIGIL_CONSOLE_URL: consoleProc.url, VIGIL_TOKEN: consoleProc.token });

beforeAll(async () => {
  dir = tempDir();
  consoleProc = await startConsoleProcess(join(dir.path, 'console'));
  raw = await enrollRawDevice(consoleProc.url, 'lab-07');
});
afterAll(async () => {
  await stopAll();
  dir.remove();
});

async function sendReceipt(device: RawDevice, signer: RawDevice, seq: number, version: number, user = 'jsmith') {
  const { body } = await consoleProc.api('/api/v1/aups');
  expect(body.aups.some((a: any) => a.variant === 'secondary' && a.version === version)).toBe(true);
  const socket = await connectAs(consoleProc.url, device);
  socket.send({ v: PROTOCOL_VERSION, type: 'hello', agentVersion: 'test', policyVersion: null, policyDigest: null, mode: 'service', capabilities: [] });
  const aupFrame = await socket.next('aup');
  const shown = { variant: 'secondary', version, aupHash: aupHash(aupFrame.aup.payload) };
  const receipt = receiptForAcceptance({
    request: { typedName: 'Jamie Smith', ...shown },
    aup: aupFrame.aup.payload,
    deviceId: device.deviceId,
    user,
    key: signer,
  });
  socket.send({
    v: PROTOCOL_VERSION,
    type: 'events',
    events: [{ id: randomUUID(), seq, at: new Date().toISOString(), type: 'aup.accepted', data: { receipt } }],
  });
  await socket.next('events.ack');
  socket.ws.close();
}

describe('AUP at the console', () => {
  it('says plainly that nobody has accepted yet, under a header, before any acceptance', async () => {
    const empty = await runCli(['aup', 'coverage'], env());
    expect(empty.code).toBe(0);
    expect(empty.stdout).toMatch(/^VARIANT\s+VERSION\s+USER\s+DEVICE\s+ACCEPTED$/m);
    expect(empty.stdout).toMatch(/nobody has accepted an AUP yet/);
    const csv = await runCli(['aup', 'coverage', '--csv'], env());
    expect(csv.stdout.trim().split('\r\n')).toHaveLength(1);
  });

  it('publishes a signed AUP that reaches the agent of a device on that variant', async () => {
    expect((await runCli(['policy', 'push', join(REPO, 'policies/secondary-default.json')], env())).code).toBe(0);
    const agent = startAgentProcess(join(dir.path, 'agent'), consoleProc.url);
    await agent.waitFor(/connected to console/, 15_000, 'stderr');
    const published = await runCli(['aup', 'publish', join(REPO, 'policies/aup/secondary.md'), '--variant', 'secondary'], env());
    expect(published.stderr).toBe('');
    expect(published.stdout).toMatch(/published "Acceptable use of school ICT" as secondary version 1; sent to 1 connected device/);
    const file = join(dir.path, 'agent', 'aup.json');
    await waitUntil(() => existsSync(file), 10_000);
    const stored = JSON.parse(readFileSync(file, 'utf8'));
    expect(stored.payload).toMatchObject({ variant: 'secondary', version: 1, title: 'Acceptable use of school ICT' });
    expect(stored.payload.markdown).not.toMatch(/^# Acceptable use/);
  });

  it('records a receipt the device signed, refuses one signed by another key, and reports coverage', async () => {
    await sendReceipt(raw, raw, 1, 1);
    const impostorPair = generateEd25519KeyPair();
    const impostor = { ...raw, privateKey: createPrivateKey(impostorPair.privateKeyPem), publicKey: impostorPair.publicKey };
    await sendReceipt(raw, impostor, 2, 1, 'mallory');
    const { rows } = (await consoleProc.api('/api/v1/aups/coverage?variant=secondary')).body;
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ variant: 'secondary', version: 1, current: true, user: 'jsmith', typedName: 'Jamie Smith', hostname: 'lab-07' });
    const audit = (await consoleProc.api('/api/v1/audit?limit=50')).body.audit;
    expect(audit.some((a: any) => a.action === 'aup.receipt-refused' && /not signed by the device key/.test(a.detail.why))).toBe(true);
  });

  it('asks again after a new version: older acceptances are no longer current', async () => {
    const published = await runCli(
      ['aup', 'publish', join(REPO, 'policies/aup/secondary.md'), '--variant', 'secondary', '--title', 'School ICT rules (revised)'],
      env(),
    );
    expect(published.stdout).toMatch(/as secondary version 2/);
    let rows = (await consoleProc.api('/api/v1/aups/coverage')).body.rows;
    expect(rows.map((r: any) => [r.version, r.current])).toEqual([[1, false]]);
    await sendReceipt(raw, raw, 3, 2);
    rows = (await consoleProc.api('/api/v1/aups/coverage')).body.rows;
    expect(rows.map((r: any) => [r.version, r.current])).toEqual([
      [2, true],
      [1, false],
    ]);
  });

  it('exports coverage as CSV with spreadsheet formulas defused', async () => {
    const evil = await enrollRawDevice(consoleProc.url, 'lab-08');
    await sendReceipt(evil, evil, 1, 2, '=HYPERLINK("http://x")');
    const csv = await runCli(['aup', 'coverage', '--csv'], env());
    expect(csv.code).toBe(0);
    const lines = csv.stdout.trim().split('\r\n');
    expect(lines[0]).toBe('"variant","version","current","user","typed_name","device_id","hostname","accepted_at"');
    expect(lines).toHaveLength(4);
    expect(csv.stdout).toContain(`"'=HYPERLINK(""http://x"")"`);
    expect(csv.stdout).not.toMatch(/,"=HYPERLINK/);
  });

  it('keeps AUP publishing to the roles allowed to do it', async () => {
    await consoleProc.api('/api/v1/users', {
      method: 'POST',
      body: JSON.stringify({ username: 'dsl', password: 'a-long-safeguarding-password', role: 'safeguarding_lead' }),
    });
    const login = await consoleProc.api('/api/v1/login', {
      method: 'POST',
      token: null,
      body: JSON.stringify({ username: 'dsl', password: 'a-long-safeguarding-password' }),
    });
    const dsl = login.body.token;
    expect((await consoleProc.api('/api/v1/aups/coverage', { token: dsl })).status).toBe(200);
    expect(
      (await consoleProc.api('/api/v1/aups', { token: dsl, method: 'POST', body: JSON.stringify({ variant: 'secondary', title: 'x', markdown: 'y' }) })).status,
    ).toBe(403);
  });
});
