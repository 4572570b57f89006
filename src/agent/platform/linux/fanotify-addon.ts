import { loadNativeAddon } from './native-addon.js';

/** The typed surface of native/fanotify (see native/fanotify/src/fanotify_gate.cc). */
export type FanotifyDelivery =
  | {
      type: 'exec';
      id: number;
      pid: number;
      fd: number;
      path: string;
      dev: bigint;
      ino: bigint;
      size: number;
      ctimeSec: number;
      ctimeNsec: number;
      mountId: bigint;
      mountIdUnique: boolean;
    }
  | { type: 'timeout'; id: number; allowed: boolean };

export interface FanotifyOpenOptions {
  /** Every event is answered within this many ms, by JS or else by the native default. */
  deadlineMs: number;
  /** The native default on deadline: true = fail-open, false = fail-closed. */
  defaultAllow: boolean;
  /** Answered on the reader thread without JS: built-in always-allow rules. */
  allowPrefixes: { dir: string; dev: bigint }[];
}

declare const handleBrand: unique symbol;
export type GateHandle = { readonly [handleBrand]: true };

export interface FanotifyAddon {
  open(options: FanotifyOpenOptions, onEvent: (delivery: FanotifyDelivery) => void): GateHandle;
  mark(handle: GateHandle, path: string, kind: 'mount' | 'filesystem'): void;
  /** The id of the mount at path (STATX_MNT_ID_UNIQUE where available); 0n if unknown. */
  mountId(path: string): bigint;
  /** cacheable: later execs of the same file identity are allowed natively until clearCache. */
  respond(handle: GateHandle, id: number, allow: boolean, cacheable: boolean): boolean;
  clearCache(handle: GateHandle): void;
  stats(handle: GateHandle): Record<string, number>;
  close(handle: GateHandle): void;
}

let loaded: FanotifyAddon | null = null;

export function loadFanotifyAddon(): FanotifyAddon {
  if (process.platform !== 'linux') throw new Error('the fanotify exec gate exists only on Linux');
  loaded ??= loadNativeAddon<FanotifyAddon>('fanotify', 'vigil_fanotify', process.env.VIGIL_FANOTIFY_ADDON);
  return loaded;
}
