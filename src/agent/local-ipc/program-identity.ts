import type { Stats } from 'node:fs';
import { realpath } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { hashFile } from '../../shared/node/file-tree.js';
import type { SignerInfo } from '../../shared/app-rules.js';
import { signerText } from '../exec/fallback.js';
import { IpcRefusal, type TrayPeer } from './server.js';

/** Larger programs are not hashed on a pupil's request (the service reads them as root). */
export const MAX_REQUESTED_PROGRAM_BYTES = 1024 * 1024 * 1024;

/**
 * What the service itself measures about a program a pupil asks for: the SHA-256 of the file on
 * disk and its signer as the OS reports it (`signerOf`: codesign on macOS, Authenticode on
 * Windows; Linux has no code signatures, so "unknown", which the console will not approve by).
 *
 * The service runs as root, so it reads only what the asking user could read (owner, group or
 * other read bit for the peer's uid and primary gid, judged on the opened file itself, not on a
 * path that may have been swapped) and only a regular file: a pupil cannot use a request to
 * learn the hash of a file that is closed to them, or make the service block on a FIFO.
 */
export async function measureProgram(
  path: string,
  peer: Pick<TrayPeer, 'uid' | 'gid'>,
  signerOf?: (path: string) => Promise<SignerInfo | null>,
): Promise<{ sha256: string; signer: string }> {
  if (!isAbsolute(path)) throw new IpcRefusal('not-readable', `${path} is not an absolute path`);
  let real: string;
  try {
    real = await realpath(path);
  } catch (error) {
    throw new IpcRefusal('not-readable', `${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let sha256: string;
  try {
    ({ sha256 } = await hashFile(real, undefined, (stats) => checkReadable(real, stats, peer)));
  } catch (error) {
    if (error instanceof IpcRefusal) throw error;
    throw new IpcRefusal('not-readable', `${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const signer = signerOf ? await signerOf(real).catch(() => null) : null;
  return { sha256, signer: signer ? signerText(signer) : 'unknown' };
}

function checkReadable(path: string, stats: Stats, { uid, gid }: Pick<TrayPeer, 'uid' | 'gid'>): void {
  if (!stats.isFile()) throw new IpcRefusal('not-readable', `${path} is not a regular file`);
  if (stats.size > MAX_REQUESTED_PROGRAM_BYTES) throw new IpcRefusal('not-readable', `${path} is larger than ${MAX_REQUESTED_PROGRAM_BYTES} bytes`);
  // A Windows pipe peer has no uid (-1): the pipe's ACL admits interactive users only; not checked here.
  if (uid < 0 || uid === 0) return;
  const bit = stats.uid === uid ? 0o400 : stats.gid === gid ? 0o040 : 0o004;
  if (!(stats.mode & bit)) throw new IpcRefusal('not-readable', `${path} is not readable by the asking user`);
}
