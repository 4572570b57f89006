import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';

/** Kernel credentials of the process at the other end of a Unix socket. */
export interface PeerCredentials {
  pid: number;
  uid: number;
  gid: number;
}

interface PeercredAddon {
  peerCredentials(fd: number): PeerCredentials;
}

/** From dist/src/agent/local-ipc/ (built) or src/agent/local-ipc/ (tests) up to the repository. */
export function peercredAddonPath(): string {
  const override = process.env.VIGIL_PEERCRED_ADDON;
  if (override) return override;
  const candidates = ['../../../../', '../../../'].map((up) => fileURLToPath(new URL(`${up}native/peercred/build/Release/vigil_peercred.node`, import.meta.url)));
  return candidates.find(existsSync) ?? candidates[0]!;
}

let loaded: PeercredAddon | null = null;

/** Throws with the reason when the addon cannot be used (other OS, not built). */
export function loadPeercredAddon(): PeercredAddon {
  if (process.platform !== 'linux') throw new Error(`SO_PEERCRED is a Linux interface; ${process.platform} needs its own peer check`);
  if (!loaded) {
    const path = peercredAddonPath();
    if (!existsSync(path)) throw new Error(`the peer-credentials addon is not built (${path}); run node scripts/prepare.mjs`);
    loaded = createRequire(import.meta.url)(path) as PeercredAddon;
  }
  return loaded;
}

/**
 * The peer's credentials for a connected Unix-socket `net.Socket`. Node keeps the descriptor
 * on the socket's internal pipe handle (`_handle.fd`); it is not a public API, so its absence
 * is an error, never a guess.
 */
export function socketPeerCredentials(socket: Socket): PeerCredentials {
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new Error('the socket has no file descriptor (closed, or not a Unix socket)');
  return loadPeercredAddon().peerCredentials(fd);
}
