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

export interface PeercredAddon {
  peerCredentials(fd: number): PeerCredentials;
}

/** From dist/src/agent/local-ipc/ (built) or src/agent/local-ipc/ (tests) up to the repository. */
export function peercredAddonPath(): string {
  const override = process.env.VIGIL_PEERCRED_ADDON;
  if (override) return override;
  const candidates = ['../../../../', '../../../'].map((up) =>
    fileURLToPath(new URL(`${up}native/peercred/build/Release/vigil_peercred.node`, import.meta.url)),
  );
  return candidates.find(existsSync) ?? candidates[0]!;
}

/** How the service learns who is on the other end of a tray connection, per platform. */
export type PeerCheck = 'SO_PEERCRED' | 'getpeereid' | 'pipe client token';

/** Null: this platform has no peer check, so the service refuses trays there. */
export function peerCheckFor(platform: NodeJS.Platform): PeerCheck | null {
  if (platform === 'linux') return 'SO_PEERCRED';
  if (platform === 'darwin') return 'getpeereid';
  if (platform === 'win32') return 'pipe client token';
  return null;
}

const loaded = new Map<string, PeercredAddon>();

/**
 * The Unix half of the addon (SO_PEERCRED on Linux, getpeereid + LOCAL_PEERPID on macOS).
 * Throws with the reason when it cannot be used (another OS, not built).
 */
export function loadPeercredAddon(
  platform: NodeJS.Platform = process.platform,
  path = peercredAddonPath(),
  load: (path: string) => PeercredAddon = (p) => createRequire(import.meta.url)(p) as PeercredAddon,
): PeercredAddon {
  const check = peerCheckFor(platform);
  if (check !== 'SO_PEERCRED' && check !== 'getpeereid') throw new Error(`${platform} has no Unix-socket peer check (${check ?? 'none'}); trays are refused`);
  let addon = loaded.get(path);
  if (!addon) {
    if (!existsSync(path)) throw new Error(`the peer-credentials addon (${check}) is not built (${path}); run node scripts/prepare.mjs`);
    addon = load(path);
    loaded.set(path, addon);
  }
  return addon;
}

/**
 * The descriptor of a connected Unix-socket `net.Socket`. Node keeps it on the socket's internal
 * pipe handle (`_handle.fd`); it is not a public API, so its absence is an error, never a guess.
 */
export function socketFd(socket: Socket): number {
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new Error('the socket has no file descriptor (closed, or not a Unix socket)');
  return fd;
}

/** The peer's credentials for a connected Unix-socket `net.Socket`. */
export function socketPeerCredentials(socket: Socket): PeerCredentials {
  return loadPeercredAddon().peerCredentials(socketFd(socket));
}
