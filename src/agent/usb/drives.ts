import type { EventEmitter } from 'node:events';
import type { z } from 'zod';
import type { TreatAsRemovableSchema } from '../../shared/usb-policy.js';
import { pathGlobMatches } from '../path-glob.js';

/** treatAsRemovable rules use the agent's one path glob (path-glob.ts). */
export { pathGlobMatches };

/**
 * The USB gate's view of the OS, implemented per platform (src/agent/platform/{linux,win32,
 * darwin}): what is mounted, which mounts are removable storage, and how to block a drive or
 * make it read-only. The gate itself (usb-gate.ts) is platform-free.
 */

/** A mounted file system, as the platform's mount table reports it. */
export interface MountedVolume {
  /** Stable while mounted; used to tell one mount from the next at the same place. */
  key: string;
  mountPoint: string;
  /** Device or source (e.g. /dev/sdb1, /dev/loop3, \\?\Volume{…}\, disk4s1). */
  source: string;
  fsType: string;
  /** Linux device number; 0:0 where the platform has none. */
  major: number;
  minor: number;
  options: readonly string[];
}

export type TreatAsRemovable = z.infer<typeof TreatAsRemovableSchema>;

/** A mount that is removable storage, with what the OS says identifies it. */
export interface RemovableDrive {
  classifiedBy: 'os' | 'policy';
  /** The block device (or the OS's name for the volume). */
  device: string;
  fsUuid: string | null;
  label: string | null;
  fsType: string;
  usbSerial: string | null;
}

export interface DriveClassifier {
  /** null: not removable storage (internal disk, tmpfs, network share...). Never throws. */
  classify(volume: MountedVolume, rules: readonly TreatAsRemovable[]): Promise<RemovableDrive | null>;
}

export interface ActionResult {
  ok: boolean;
  detail: string;
}

export interface DriveActions {
  /** Takes the drive away from users (unmount; eject where the OS can). */
  block(volume: MountedVolume): Promise<ActionResult>;
  /** Leaves it readable only: no writing, no running programs from it. */
  makeReadOnly(volume: MountedVolume): Promise<ActionResult>;
  /** True when the mount table shows the volume read-only and non-executable. */
  isReadOnly(volume: MountedVolume): boolean;
  /**
   * Puts back the mount options the volume had when it was seen (after the gate held it
   * read-only while checking). Platforms without it are not held.
   */
  restore?(volume: MountedVolume): Promise<ActionResult>;
}

/**
 * Emits `mounted`, `unmounted` and `changed` (options changed, e.g. remounted) with a
 * MountedVolume, and `error`. `start` resolves with the mounts present at start, which the gate
 * checks like new ones.
 */
export interface VolumeWatcher extends EventEmitter {
  start(): Promise<MountedVolume[]>;
  stop(): void;
  /** Re-reads the mount table now (after the gate changed a mount itself). */
  refresh(): Promise<void>;
}

export interface UsbPlatform {
  name: string;
  watcher: VolumeWatcher;
  classifier: DriveClassifier;
  actions: DriveActions;
}

/** The first treatAsRemovable rule the mount matches, if any. */
export function matchesRule(volume: Pick<MountedVolume, 'mountPoint' | 'source'>, rules: readonly TreatAsRemovable[]): TreatAsRemovable | null {
  return (
    rules.find(
      (r) =>
        (r.mountPoint === undefined || pathGlobMatches(r.mountPoint, volume.mountPoint)) &&
        (r.source === undefined || pathGlobMatches(r.source, volume.source)),
    ) ?? null
  );
}
