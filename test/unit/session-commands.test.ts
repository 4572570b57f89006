import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CommandGate } from '../../src/agent/commands.js';
import { CommandPayloadSchema, type CommandPayload } from '../../src/shared/command.js';
import { generateEd25519KeyPair } from '../../src/shared/node/crypto.js';
import { signedCommand } from '../helpers/commands.js';
import { parseAgentMessage, parseConsoleMessage } from '../../src/shared/protocol.js';
import { PERMISSIONS } from '../../src/shared/roles.js';
import { tempDirsPerTest } from '../helpers/processes.js';

const dir = tempDirsPerTest();
const consoleKey = generateEd25519KeyPair();
const otherKey = generateEd25519KeyPair();
const deviceId = randomUUID();

const command = (overrides: Partial<CommandPayload> = {}, key = consoleKey) =>
  signedCommand(deviceId, { privateKey: key.privateKeyPem, publicKey: key.publicKey }, overrides);

describe('console commands', () => {
  it('the agent accepts a signed command once, and refuses replays even after a restart', () => {
    const file = dir('seen.json');
    const gate = new CommandGate(file, deviceId, consoleKey.publicKey);
    const c = command();
    expect(gate.check(c)).toMatchObject({ ok: true });
    expect(gate.check(c)).toMatchObject({ ok: false, outcome: 'replayed', id: c.payload.id });
    const restarted = new CommandGate(file, deviceId, consoleKey.publicKey);
    expect(restarted.check(c)).toMatchObject({ ok: false, outcome: 'replayed' });
  });

  it('refuses tampered, foreign, misdirected, expired and future commands', () => {
    const gate = new CommandGate(join(dir(), 'seen.json'), deviceId, consoleKey.publicKey);
    const tampered = command();
    tampered.payload = { ...tampered.payload, action: 'logoff' };
    expect(gate.check(tampered)).toMatchObject({ ok: false, outcome: 'bad-signature' });
    expect(gate.check(command({}, otherKey))).toMatchObject({ ok: false, outcome: 'bad-signature' });
    expect(gate.check(command({ deviceId: randomUUID() }))).toMatchObject({ ok: false, outcome: 'wrong-device' });
    const past = Date.now() - 120_000;
    expect(gate.check(command({ issuedAt: new Date(past).toISOString(), expiresAt: new Date(past + 60_000).toISOString() }))).toMatchObject({
      ok: false,
      outcome: 'expired',
    });
    const future = Date.now() + 300_000;
    expect(gate.check(command({ issuedAt: new Date(future).toISOString(), expiresAt: new Date(future + 60_000).toISOString() }))).toMatchObject({
      ok: false,
      outcome: 'not-yet-valid',
    });
    expect(gate.check({ payload: { id: 'x' } })).toMatchObject({ ok: false, outcome: 'malformed', id: null });
    expect(gate.check('garbage')).toMatchObject({ ok: false, outcome: 'malformed' });
  });

  it('the schema bounds lifetime and ties text to messages', () => {
    const base = command().payload;
    expect(CommandPayloadSchema.safeParse({ ...base, expiresAt: new Date(Date.parse(base.issuedAt) + 3600_000).toISOString() }).success).toBe(false);
    expect(CommandPayloadSchema.safeParse({ ...base, action: 'message' }).success).toBe(false);
    expect(CommandPayloadSchema.safeParse({ ...base, text: 'hi' }).success).toBe(false);
    expect(CommandPayloadSchema.safeParse({ ...base, action: 'message', text: 'hi' }).success).toBe(true);
  });

  it('protocol frames and permission', () => {
    expect(parseConsoleMessage(JSON.stringify({ v: 1, type: 'command', command: command() })).ok).toBe(true);
    expect(parseAgentMessage(JSON.stringify({ v: 1, type: 'command.result', id: randomUUID(), outcome: 'done', detail: 'ok', backend: 'i3lock' })).ok).toBe(
      true,
    );
    expect(parseAgentMessage(JSON.stringify({ v: 1, type: 'command.result', id: null, outcome: 'nope', detail: '', backend: null })).ok).toBe(false);
    expect(PERMISSIONS['devices:command']).toEqual(['admin', 'technician']);
  });
});
