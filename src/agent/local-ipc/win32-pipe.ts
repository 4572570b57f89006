import { closeSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Socket } from 'node:net';
import { TRAY_PIPE_NAME } from '../../shared/local-ipc.js';
import { peercredAddonPath } from './peercred.js';

/**
 * The Windows transport of the tray IPC: a named pipe whose security descriptor lets the
 * service (LocalSystem) and administrators own it and interactive users only read and write.
 * Written against the documented SDDL grammar and access rights; NOT verified on Windows (see
 * docs/tray.md). The pipe itself is created by the addon (native/peercred/src/pipe_win.cc),
 * because libuv creates pipes with the default DACL.
 */

/** Access rights for pipes and files (winnt.h). */
export const ACCESS = {
  FILE_READ_DATA: 0x1,
  FILE_WRITE_DATA: 0x2,
  /** For a pipe this bit is FILE_CREATE_PIPE_INSTANCE: whoever has it can create an instance and pose as the server. */
  FILE_APPEND_DATA: 0x4,
  FILE_READ_EA: 0x8,
  FILE_WRITE_EA: 0x10,
  FILE_READ_ATTRIBUTES: 0x80,
  FILE_WRITE_ATTRIBUTES: 0x100,
  READ_CONTROL: 0x20000,
  SYNCHRONIZE: 0x100000,
  GENERIC_ALL: 0x10000000,
} as const;
export const FILE_CREATE_PIPE_INSTANCE = ACCESS.FILE_APPEND_DATA;

/** What a tray needs on the pipe: read and write data, nothing that creates instances or changes the ACL. */
export const TRAY_CLIENT_ACCESS =
  ACCESS.READ_CONTROL |
  ACCESS.SYNCHRONIZE |
  ACCESS.FILE_READ_DATA |
  ACCESS.FILE_READ_EA |
  ACCESS.FILE_READ_ATTRIBUTES |
  ACCESS.FILE_WRITE_DATA |
  ACCESS.FILE_WRITE_EA |
  ACCESS.FILE_WRITE_ATTRIBUTES;

/**
 * What the tray asks for when it opens the pipe: exactly the rights it uses, all inside the
 * users' entry of the DACL. Never GENERIC_WRITE: for a pipe that maps to FILE_GENERIC_WRITE,
 * which includes FILE_CREATE_PIPE_INSTANCE, so the open would be refused. Data both ways;
 * FILE_WRITE_ATTRIBUTES because libuv sets the handle's read mode (SetNamedPipeHandleState);
 * FILE_READ_ATTRIBUTES for libuv's queries of the handle; READ_CONTROL to read the pipe's
 * owner (connectTrayPipe); SYNCHRONIZE as every file open asks.
 */
export const TRAY_CLIENT_OPEN_ACCESS =
  ACCESS.FILE_READ_DATA | ACCESS.FILE_WRITE_DATA | ACCESS.FILE_READ_ATTRIBUTES | ACCESS.FILE_WRITE_ATTRIBUTES | ACCESS.READ_CONTROL | ACCESS.SYNCHRONIZE;

/** SDDL's named rights (the ones a pipe DACL is likely to carry). */
const NAMED_RIGHTS: Record<string, number> = {
  GA: ACCESS.GENERIC_ALL,
  GR: 0x80000000,
  GW: 0x40000000,
  FA: 0x1f01ff,
  FR: 0x120089,
  FW: 0x120116,
  FX: 0x1200a0,
};

/** The well-known SIDs used here, by their SDDL aliases. */
const LOCAL_SYSTEM = 'SY';
const ADMINISTRATORS = 'BA';
const INTERACTIVE = 'IU';

/** The tray pipe's descriptor: owner and group LocalSystem, a protected DACL, three entries. */
export function trayPipeSddl(): string {
  const hex = `0x${TRAY_CLIENT_ACCESS.toString(16)}`;
  return `O:${LOCAL_SYSTEM}G:${LOCAL_SYSTEM}D:P(A;;GA;;;${LOCAL_SYSTEM})(A;;GA;;;${ADMINISTRATORS})(A;;${hex};;;${INTERACTIVE})`;
}

export interface Ace {
  type: string;
  flags: string;
  mask: number;
  trustee: string;
}

/** The DACL of an SDDL string: its flags (P, AI...) and entries, with rights as a mask. */
export function parseDacl(sddl: string): { flags: string; aces: Ace[] } {
  const match = /D:([A-Z]*)((?:\([^)]*\))*)/.exec(sddl);
  if (!match) throw new Error('no DACL (D:) in the security descriptor');
  const aces = [...match[2]!.matchAll(/\(([^)]*)\)/g)].map(([, body]) => {
    const [type = '', flags = '', rights = '', , , trustee = ''] = body!.split(';');
    return { type, flags, mask: rightsMask(rights), trustee };
  });
  return { flags: match[1]!, aces };
}

function rightsMask(rights: string): number {
  if (/^0x[0-9a-f]+$/i.test(rights)) return Number.parseInt(rights, 16);
  let mask = 0;
  for (let i = 0; i < rights.length; i += 2) {
    const right = NAMED_RIGHTS[rights.slice(i, i + 2)];
    if (right === undefined) throw new Error(`unknown access right "${rights.slice(i, i + 2)}"`);
    mask |= right;
  }
  return mask;
}

const FULL = (mask: number) => (mask & ACCESS.GENERIC_ALL) !== 0 || (mask & NAMED_RIGHTS.FA!) === NAMED_RIGHTS.FA;
const CAN_CREATE_INSTANCE = (mask: number) => FULL(mask) || (mask & NAMED_RIGHTS.GW!) !== 0 || (mask & FILE_CREATE_PIPE_INSTANCE) !== 0;

/** What is wrong with a descriptor for the tray pipe (empty: nothing). */
export function checkTrayPipeSddl(sddl: string): string[] {
  const problems: string[] = [];
  const owner = /O:([A-Z]{2}|S-[0-9-]+)/.exec(sddl)?.[1];
  if (owner !== LOCAL_SYSTEM && owner !== ADMINISTRATORS) problems.push(`owner is ${owner ?? 'not set'}, not LocalSystem or Administrators`);
  const { flags, aces } = parseDacl(sddl);
  if (!flags.includes('P')) problems.push('the DACL is not protected: inherited entries could widen it');
  for (const ace of aces) {
    if (ace.type !== 'A') continue;
    const privileged = ace.trustee === LOCAL_SYSTEM || ace.trustee === ADMINISTRATORS;
    if (ace.trustee === 'WD' || ace.trustee === 'AN' || ace.trustee === 'NU') problems.push(`${ace.trustee} (everyone/anonymous/network) has access`);
    else if (!privileged && CAN_CREATE_INSTANCE(ace.mask))
      problems.push(`${ace.trustee} can create pipe instances (0x${ace.mask.toString(16)}): it could pose as the service`);
    else if (!privileged && (ace.mask & 0xc0000) !== 0) problems.push(`${ace.trustee} can change the pipe's ACL or owner`);
  }
  if (!aces.some((a) => a.type === 'A' && a.trustee === LOCAL_SYSTEM)) problems.push('LocalSystem (the service) has no access');
  return problems;
}

/**
 * The SID the tray requires as the pipe's owner: LocalSystem. The tray checks the owner of the
 * pipe (GetSecurityInfo on its handle), not the server process's token, which a standard user
 * may not open: only a process allowed to assign LocalSystem as an owner (LocalSystem itself,
 * or one holding SeRestorePrivilege) can create a pipe owned by it, and the DACL stops anyone
 * else adding an instance to ours (docs/security.md).
 */
export const SERVICE_SID = 'S-1-5-18';

export interface PipeAddon {
  /** Throws (code VIGIL_PIPE_NAME_TAKEN) when the name is already held. */
  pipeListen(name: string, sddl: string, onClient: (error: string | null, client: { fd: number; pid: number; sid: string } | null) => void): object;
  /** Returns once the listener thread has ended. */
  pipeClose(handle: object): void;
  pipeConnect(name: string, access: number): { fd: number; serverPid: number; ownerSid: string };
}

export function loadPipeAddon(): PipeAddon {
  if (process.platform !== 'win32') throw new Error('named pipes with an ACL are the Windows transport');
  const path = peercredAddonPath();
  if (!existsSync(path)) throw new Error(`the pipe addon is not built (${path})`);
  return createRequire(import.meta.url)(path) as PipeAddon;
}

/** A connected pipe descriptor as a socket; the descriptor is closed if it cannot be wrapped. */
function pipeSocket(fd: number): Socket {
  try {
    return new Socket({ fd, readable: true, writable: true });
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}

/**
 * The service's end: every connected client arrives as a socket with the SID of the token the
 * pipe captured when it connected (the Windows counterpart of the uid from SO_PEERCRED).
 * Run under Wine here; what needs a real Windows machine is in docs/platforms.md.
 */
export function listenTrayPipe(
  onClient: (socket: Socket, peer: { pid: number; sid: string }) => void,
  onError: (message: string) => void,
  name = TRAY_PIPE_NAME,
): { close(): void } {
  const addon = loadPipeAddon();
  const handle = addon.pipeListen(name, trayPipeSddl(), (error, client) => {
    if (error || !client) return onError(error ?? 'the pipe listener stopped');
    let socket: Socket;
    try {
      socket = pipeSocket(client.fd);
    } catch (wrapError) {
      return onError(`a connected client could not be wrapped and was closed: ${(wrapError as Error).message}`);
    }
    onClient(socket, { pid: client.pid, sid: client.sid });
  });
  return { close: () => addon.pipeClose(handle) };
}

/** The tray's end: refuses a pipe whose owner is not LocalSystem (SERVICE_SID). */
export function connectTrayPipe(name = TRAY_PIPE_NAME): Socket {
  const { fd, ownerSid, serverPid } = loadPipeAddon().pipeConnect(name, TRAY_CLIENT_OPEN_ACCESS);
  const socket = pipeSocket(fd);
  if (ownerSid !== SERVICE_SID) {
    socket.destroy();
    throw new Error(`${name} (server pid ${serverPid}) is owned by ${ownerSid || 'an unknown account'}, not LocalSystem: not the Vigil service`);
  }
  return socket;
}
