import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ACCESS,
  checkTrayPipeSddl,
  FILE_CREATE_PIPE_INSTANCE,
  parseDacl,
  TRAY_CLIENT_ACCESS,
  TRAY_CLIENT_OPEN_ACCESS,
  trayPipeSddl,
} from '../../src/agent/local-ipc/win32-pipe.js';
import { REPO } from '../helpers/processes.js';

/** The Windows tray pipe's ACL, built and checked on documented descriptors (unverified on Windows). */
const fixtures = JSON.parse(readFileSync(join(REPO, 'test/fixtures/win32/pipe-sddl.json'), 'utf8')) as Record<string, string>;

describe('Windows tray pipe ACL', () => {
  it('gives interactive users read and write but not the right to create instances', () => {
    expect(trayPipeSddl()).toBe('O:SYG:SYD:P(A;;GA;;;SY)(A;;GA;;;BA)(A;;0x12019b;;;IU)');
    expect(TRAY_CLIENT_ACCESS & FILE_CREATE_PIPE_INSTANCE).toBe(0);
    const { flags, aces } = parseDacl(trayPipeSddl());
    expect(flags).toBe('P');
    expect(aces.map((a) => a.trustee)).toEqual(['SY', 'BA', 'IU']);
    expect(checkTrayPipeSddl(trayPipeSddl())).toEqual([]);
  });

  it("finds the default pipe DACL's everyone and anonymous access", () => {
    expect(checkTrayPipeSddl(fixtures.defaultNamedPipe!)).toEqual([
      'the DACL is not protected: inherited entries could widen it',
      'CO can create pipe instances (0x1f01ff): it could pose as the service',
      'WD (everyone/anonymous/network) has access',
      'AN (everyone/anonymous/network) has access',
    ]);
  });

  it('refuses FILE_GENERIC_WRITE for users (it includes FILE_CREATE_PIPE_INSTANCE) and unprotected DACLs', () => {
    expect(checkTrayPipeSddl(fixtures.usersGenericWrite!)).toEqual(['IU can create pipe instances (0x12019f): it could pose as the service']);
    expect(checkTrayPipeSddl(fixtures.unprotected!)).toEqual(['the DACL is not protected: inherited entries could widen it']);
    expect(() => parseDacl('O:SY')).toThrow(/no DACL/);
    expect(() => parseDacl('D:P(A;;ZZ;;;IU)')).toThrow(/unknown access right/);
  });

  it("the tray asks for exactly rights inside the users' entry: never GENERIC_WRITE, whose file mapping carries FILE_CREATE_PIPE_INSTANCE", () => {
    const users = parseDacl(trayPipeSddl()).aces.find((a) => a.trustee === 'IU')!.mask;
    // Every bit asked for is granted to interactive users, or the open would be refused.
    expect(TRAY_CLIENT_OPEN_ACCESS & ~users).toBe(0);
    expect(TRAY_CLIENT_OPEN_ACCESS & FILE_CREATE_PIPE_INSTANCE).toBe(0);
    // Data both ways, libuv's SetNamedPipeHandleState, the owner check (GetSecurityInfo).
    for (const right of [ACCESS.FILE_READ_DATA, ACCESS.FILE_WRITE_DATA, ACCESS.FILE_WRITE_ATTRIBUTES, ACCESS.READ_CONTROL])
      expect(TRAY_CLIENT_OPEN_ACCESS & right).toBe(right);
    // What the old client asked for: GENERIC_READ | GENERIC_WRITE maps (FR | FW) to a mask the entry does not cover.
    const fileGenericWrite = parseDacl('D:P(A;;FW;;;IU)').aces[0]!.mask;
    expect(fileGenericWrite & FILE_CREATE_PIPE_INSTANCE).toBe(FILE_CREATE_PIPE_INSTANCE);
    expect(fileGenericWrite & ~users).not.toBe(0);
  });
});
