import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CommandGate } from '../../src/agent/commands.js';
import type { CommandPayload } from '../../src/shared/command.js';
import { generateEd25519KeyPair } from '../../src/shared/node/crypto.js';
import { signedCommand } from '../helpers/commands.js';
import { tempDirsPerTest } from '../helpers/processes.js';

/**
 * The agent's console-command gate at its edges, asserting `ok` as well as the outcome: each case
 * was a mutation that let a command through (or a replay) unnoticed (issue 19).
 */
const dir = tempDirsPerTest();
const consoleKey = generateEd25519KeyPair();
const deviceId = randomUUID();
const ISSUED = Date.parse('2024-03-01T10:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();

const command = (overrides: Partial<CommandPayload> = {}) =>
  signedCommand(
    deviceId,
    { privateKey: consoleKey.privateKeyPem, publicKey: consoleKey.publicKey },
    { issuedAt: iso(ISSUED), expiresAt: iso(ISSUED + 60_000), ...overrides },
  );

function gateAt(clock: { now: number }, file = dir('seen.json')) {
  return { gate: new CommandGate(file, deviceId, consoleKey.publicKey, () => clock.now), file };
}
const seenIds = (file: string) => (JSON.parse(readFileSync(file, 'utf8')) as { seen: { id: string; expiresAt: string }[] }).seen;

describe('command gate at its edges', () => {
  it('refuses a command at the very millisecond it expires, and takes it one millisecond before', () => {
    const clock = { now: ISSUED + 60_000 };
    const { gate } = gateAt(clock);
    const c = command();
    expect(gate.check(c)).toEqual({ ok: false, id: c.payload.id, action: 'lock', outcome: 'expired', detail: `expired at ${c.payload.expiresAt}` });
    clock.now = ISSUED + 59_999;
    expect(gate.check(c)).toEqual({ ok: true, command: c.payload });
  });

  it('takes a command issued up to a minute in its future, and refuses it one millisecond further', () => {
    const clock = { now: ISSUED - 60_001 };
    const { gate } = gateAt(clock);
    const c = command();
    expect(gate.check(c)).toEqual({
      ok: false,
      id: c.payload.id,
      action: 'lock',
      outcome: 'not-yet-valid',
      detail: `issued at ${c.payload.issuedAt}, in this device's future`,
    });
    clock.now = ISSUED - 60_000;
    expect(gate.check(c)).toMatchObject({ ok: true });
  });

  it('names the refusal reasons plainly', () => {
    const clock = { now: ISSUED };
    const { gate } = gateAt(clock);
    const other = command({ deviceId: randomUUID(), action: 'logoff' });
    expect(gate.check(other)).toEqual({
      ok: false,
      id: other.payload.id,
      action: 'logoff',
      outcome: 'wrong-device',
      detail: 'the command is for another device',
    });
    const tampered = command();
    tampered.payload = { ...tampered.payload, issuedBy: 'someone else' };
    expect(gate.check(tampered)).toEqual({
      ok: false,
      id: tampered.payload.id,
      action: 'lock',
      outcome: 'bad-signature',
      detail: 'not signed by the console this device is enrolled with',
    });
    const c = command();
    expect(gate.check(c).ok).toBe(true);
    expect(gate.check(c)).toEqual({ ok: false, id: c.payload.id, action: 'lock', outcome: 'replayed', detail: 'this command was already carried out' });
  });

  it('writes an accepted id to disk before answering, and forgets it once the command has expired', () => {
    const clock = { now: ISSUED };
    const { gate, file } = gateAt(clock);
    const first = command();
    expect(gate.check(first).ok).toBe(true);
    expect(seenIds(file)).toEqual([{ id: first.payload.id, expiresAt: first.payload.expiresAt }]);
    // At the first one's expiry a later command is taken, and the first is no longer kept.
    clock.now = ISSUED + 60_000;
    const second = command({ issuedAt: iso(ISSUED + 30_000), expiresAt: iso(ISSUED + 90_000) });
    expect(gate.check(second).ok).toBe(true);
    expect(seenIds(file).map((e) => e.id)).toEqual([second.payload.id]);
    // One millisecond before its expiry a command is still remembered.
    clock.now = ISSUED + 89_999;
    expect(gate.check(second)).toMatchObject({ ok: false, outcome: 'replayed' });
  });

  it('refuses every new command while ten thousand unexpired ones are remembered', () => {
    const file = dir('seen.json');
    const full = Array.from({ length: 10_000 }, () => ({ id: randomUUID(), expiresAt: iso(ISSUED + 60_000) }));
    writeFileSync(file, JSON.stringify({ seen: full }));
    const clock = { now: ISSUED };
    const { gate } = gateAt(clock, file);
    const c = command();
    expect(gate.check(c)).toEqual({
      ok: false,
      id: c.payload.id,
      action: 'lock',
      outcome: 'replayed',
      detail: 'too many recent commands remembered; refusing until some expire',
    });
    // One fewer: room for this one.
    writeFileSync(file, JSON.stringify({ seen: full.slice(1) }));
    expect(gateAt(clock, file).gate.check(c)).toMatchObject({ ok: true });
    // And a remembered id is refused as such after a restart.
    expect(gateAt(clock, file).gate.check(c)).toMatchObject({ ok: false, outcome: 'replayed', detail: 'this command was already carried out' });
    const again = command({ id: full[5]!.id });
    expect(gateAt(clock, file).gate.check(again)).toMatchObject({ ok: false, outcome: 'replayed', detail: 'this command was already carried out' });
  });

  it('starts empty from an unreadable seen file, and names the id of a broken command only when it is a UUID', () => {
    const file = dir('seen.json');
    writeFileSync(file, '{"seen": "not a list"');
    const clock = { now: ISSUED };
    const { gate } = gateAt(clock, file);
    expect(gate.check(command())).toMatchObject({ ok: true });
    const id = randomUUID().toUpperCase();
    expect(gate.check({ payload: { id } })).toMatchObject({ ok: false, id, action: null, outcome: 'malformed' });
    for (const bad of [`${id}x`, `x${id}`, 42, null, [id]])
      expect(gate.check({ payload: { id: bad } }), String(bad)).toMatchObject({ ok: false, id: null, outcome: 'malformed' });
    expect(gate.check(null)).toMatchObject({ ok: false, id: null, outcome: 'malformed' });
  });

  it('uses the real clock when none is given', () => {
    const gate = new CommandGate(dir('seen.json'), deviceId, consoleKey.publicKey);
    expect(gate.check(command())).toMatchObject({ ok: false, outcome: 'expired' }); // issued in March 2024, long over
    const now = Date.now();
    expect(gate.check(command({ issuedAt: iso(now), expiresAt: iso(now + 60_000) }))).toMatchObject({ ok: true });
  });
});
