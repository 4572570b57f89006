import { readFile } from 'node:fs/promises';
import { arch, hostname, platform, release, uptime } from 'node:os';
import si from 'systeminformation';
import type { Platform } from '../../shared/status.js';
import { sha256Hex } from '../../shared/node/crypto.js';

/**
 * The only place the agent asks the OS about itself. systeminformation spawns processes for
 * most calls (`who`, `lsb_release`...), so distro and machine id are read once and cached, and
 * the session list only when a status report is due.
 */
export interface SystemFacts {
  hostname: string;
  platform: Platform;
  release: string;
  arch: string;
  distro: string | null;
  uptimeSeconds: number;
}

export interface Sessions {
  /** The user at the local seat (console / display :0), if any. */
  seatUser: string | null;
  users: string[];
}

let distroCache: Promise<string | null> | null = null;

export function currentPlatform(): Platform {
  const p = platform();
  return p === 'linux' || p === 'win32' || p === 'darwin' ? p : 'other';
}

export async function systemFacts(): Promise<SystemFacts> {
  distroCache ??= si
    .osInfo()
    .then((info) => [info.distro, info.release].filter(Boolean).join(' ') || null)
    .catch(() => null);
  return {
    hostname: hostname(),
    platform: currentPlatform(),
    release: release(),
    arch: arch(),
    distro: await distroCache,
    uptimeSeconds: Math.floor(uptime()),
  };
}

/** Local seats look like ":0", "tty7", "console" (macOS) or "console"/"rdp-tcp" on Windows. */
const LOCAL_SEAT = /^(:\d+(\.\d+)?|tty\d+|console|seat\d+)$/;

export async function signedInSessions(): Promise<Sessions> {
  let list: { user: string; tty: string }[] = [];
  try {
    list = await si.users();
  } catch {
    list = [];
  }
  const users = [...new Set(list.map((u) => u.user).filter(Boolean))].slice(0, 64);
  const seat = list.find((u) => LOCAL_SEAT.test(u.tty ?? ''));
  return { seatUser: seat?.user ?? null, users };
}

/** sha256 of the OS machine id: recorded by the console only to spot cloned disk images. */
export async function machineIdHint(): Promise<string | null> {
  const candidates = ['/etc/machine-id', '/var/lib/dbus/machine-id'];
  if (currentPlatform() === 'linux') {
    for (const path of candidates) {
      const id = (await readFile(path, 'utf8').catch(() => '')).trim();
      if (id) return sha256Hex(`vigil-machine-id:${id}`);
    }
    return null;
  }
  const id = await si
    .uuid()
    .then((u) => u.os)
    .catch(() => '');
  return id ? sha256Hex(`vigil-machine-id:${id}`) : null;
}
