import { randomUUID, type KeyObject } from 'node:crypto';
import type { CommandPayload, SignedCommand } from '../../src/shared/command.js';
import { randomToken } from '../../src/shared/node/crypto.js';
import { signPayload } from '../../src/shared/node/signing.js';

/** A console command for `deviceId`, valid for a minute from now, signed with the given key. */
export function signedCommand(
  deviceId: string,
  key: { privateKey: KeyObject | string; publicKey: string },
  overrides: Partial<CommandPayload> = {},
): SignedCommand {
  const now = Date.now();
  const payload: CommandPayload = {
    kind: 'vigil.command',
    id: randomUUID(),
    deviceId,
    action: 'lock',
    issuedBy: 'test',
    issuedAt: new Date(now).toISOString(),
    expiresAt: new Date(now + 60_000).toISOString(),
    nonce: randomToken(16),
    ...overrides,
  };
  return { payload, signature: signPayload('command', payload, key.privateKey, key.publicKey) };
}
