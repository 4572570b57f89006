import type { Socket } from 'node:net';
import { TRAY_PIPE_NAME } from '../../shared/local-ipc.js';
import { loadPeercredAddon, peerCheckFor, socketFd, type PeerCheck, type PeerCredentials, type PeercredAddon } from './peercred.js';
import type { TrayListener, TrayPeer } from './server.js';
import { connectTrayPipe, listenTrayPipe } from './win32-pipe.js';

/**
 * Which transport and which peer check the tray IPC uses on each platform: a Unix socket whose
 * peer the kernel names (Linux SO_PEERCRED, macOS getpeereid), or on Windows the named pipe with
 * its ACL, whose client the addon names by the SID of the token the pipe captured. Everything
 * OS-specific comes in through `TrayPlatform`, so the choice is testable on any OS with fakes.
 */
export interface TrayPlatform {
  platform: NodeJS.Platform;
  /** The Unix half of the addon; throws with the reason when it is missing. */
  peercred(): PeercredAddon;
  listenPipe: typeof listenTrayPipe;
  connectPipe: typeof connectTrayPipe;
}

export const hostTrayPlatform: TrayPlatform = {
  platform: process.platform,
  peercred: () => loadPeercredAddon(),
  listenPipe: listenTrayPipe,
  connectPipe: connectTrayPipe,
};

type UnixSocket = { kind: 'unix-socket'; path: string; peerCheck: PeerCheck; credentialsOf: (socket: Socket) => PeerCredentials };
export type TrayServerTransport = UnixSocket | { kind: 'named-pipe'; path: string; peerCheck: PeerCheck; listener: TrayListener };
export type TrayClientTransport = UnixSocket | { kind: 'named-pipe'; path: string; peerCheck: PeerCheck; connect: () => Socket };

function checkOf(platform: NodeJS.Platform): PeerCheck {
  const check = peerCheckFor(platform);
  if (!check) throw new Error(`the tray IPC has no peer check on ${platform}: trays are refused`);
  return check;
}

/**
 * The service's end. Loads what the peer check needs now, so a missing addon stops the service's
 * tray IPC at start with the reason instead of refusing every tray later.
 */
export function trayServerTransport(socketPath: string, host: TrayPlatform = hostTrayPlatform): TrayServerTransport {
  const peerCheck = checkOf(host.platform);
  if (host.platform === 'win32') return { kind: 'named-pipe', path: TRAY_PIPE_NAME, peerCheck, listener: pipeListener(host.listenPipe) };
  const addon = host.peercred();
  return { kind: 'unix-socket', path: socketPath, peerCheck, credentialsOf: (socket) => addon.peerCredentials(socketFd(socket)) };
}

/**
 * The tray's end: a connected socket to the service, whose identity is already checked on
 * Windows (the pipe's owner must be LocalSystem); on Unix the client checks the socket
 * file and the listener's uid itself (client.ts) with the returned `credentialsOf`.
 */
export function trayClientTransport(socketPath: string, host: TrayPlatform = hostTrayPlatform): TrayClientTransport {
  const peerCheck = checkOf(host.platform);
  if (host.platform === 'win32') return { kind: 'named-pipe', path: TRAY_PIPE_NAME, peerCheck, connect: host.connectPipe };
  return { kind: 'unix-socket', path: socketPath, peerCheck, credentialsOf: (socket) => host.peercred().peerCredentials(socketFd(socket)) };
}

/**
 * A Windows pipe client has no uid: it is named by its account's SID (`user`), and uid/gid are
 * -1, so uid-bound requests (the session's lock, decline, power and idle) are refused to it.
 */
export function pipePeer({ pid, sid }: { pid: number; sid: string }): TrayPeer {
  return { pid, uid: -1, gid: -1, user: sid };
}

function pipeListener(listen: typeof listenTrayPipe): TrayListener {
  let pipe: { close(): void } | null = null;
  return {
    async start(accept, onError) {
      pipe = listen((socket, peer) => accept(socket, pipePeer(peer)), onError);
    },
    async stop() {
      pipe?.close();
      pipe = null;
    },
  };
}
