import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Real file systems standing in for USB drives: image files attached to loop devices and
 * mounted. Everything made here is undone by `cleanupDrives` (unmount, `losetup -d`, delete),
 * which test files call in afterAll and which tolerates half-made drives.
 */
export interface LoopDrive {
  image: string;
  mount: string;
  device: string;
}

const made: { dir: string; drive?: LoopDrive }[] = [];
/** Every image this process made, cleaned up or not. */
const allImages: string[] = [];

export const isRoot = () => process.getuid?.() === 0;

export function sh(cmd: string, args: string[], input?: string): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], ...(input ? { input } : {}) });
}

/** A fresh ext4 volume (its own UUID) mounted on a loop device, at `mountAt` if given (an existing directory). */
export function makeExt4Drive(sizeMb = 64, label = 'PUPILDRIVE', mountAt?: string): LoopDrive {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-drive-'));
  const entry: { dir: string; drive?: LoopDrive } = { dir };
  made.push(entry);
  const image = join(dir, 'drive.img');
  const mount = mountAt ?? join(dir, 'mnt');
  if (!mountAt) mkdirSync(mount);
  sh('truncate', ['-s', `${sizeMb}M`, image]);
  // No journal and no lazy init: smaller, and no kernel thread still writing at unmount.
  sh('mkfs.ext4', ['-q', '-F', '-L', label, '-O', '^has_journal', '-E', 'lazy_itable_init=0,lazy_journal_init=0', image]);
  const device = sh('losetup', ['--find', '--show', image]).trim();
  entry.drive = { image, mount, device };
  allImages.push(image);
  sh('mount', [device, mount]);
  return entry.drive;
}

/**
 * A fresh exFAT volume on a loop device, mounted through FUSE (exfat-fuse): the kernel here has
 * no FAT driver, and FAT sticks on laptops are exFAT or FAT32. Long names work, unlike fusefat.
 */
export function makeExfatDrive(sizeMb = 64, label = 'HOMEWORK'): LoopDrive {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-drive-'));
  const entry: { dir: string; drive?: LoopDrive } = { dir };
  made.push(entry);
  const image = join(dir, 'drive.img');
  const mount = join(dir, 'mnt');
  mkdirSync(mount);
  sh('truncate', ['-s', `${sizeMb}M`, image]);
  sh('mkfs.exfat', ['-L', label, image]);
  const device = sh('losetup', ['--find', '--show', image]).trim();
  entry.drive = { image, mount, device };
  allImages.push(image);
  mountLoop(entry.drive, mount);
  return entry.drive;
}

/** Mounts the drive's device at `dir` (FUSE for exFAT), as a laptop's automounter would. */
export function mountLoop(drive: LoopDrive, dir: string): void {
  const type = sh('blkid', ['-o', 'value', '-s', 'TYPE', drive.device]).trim();
  if (type === 'exfat') sh('mount.exfat-fuse', [drive.device, dir]);
  else sh('mount', [drive.device, dir]);
  drive.mount = dir;
}

/** Unmounts the drive (if mounted) and mounts it again at `dir`: unplugged and plugged in elsewhere. */
export function moveDrive(drive: LoopDrive, dir: string): void {
  try {
    sh('umount', [drive.mount]);
  } catch {
    /* not mounted (the agent may have unmounted it) */
  }
  mkdirSync(dir, { recursive: true });
  mountLoop(drive, dir);
}

export function unmountDrive(drive: LoopDrive): void {
  try {
    sh('umount', [drive.mount]);
  } catch {
    /* not mounted */
  }
  try {
    sh('losetup', ['-d', drive.device]);
  } catch {
    /* already detached */
  }
}

export function cleanupDrives(): void {
  for (const entry of made.splice(0)) {
    if (entry.drive) unmountDrive(entry.drive);
    rmSync(entry.dir, { recursive: true, force: true });
  }
}

/**
 * Loop devices still backed by an image this test file made (for the leave-nothing-behind
 * check). Only our own: other test files running in parallel have drives of their own.
 */
export function leftoverLoopDevices(): string {
  return sh('losetup', ['-a'])
    .split('\n')
    .filter((l) => allImages.some((image) => l.includes(`(${image}`)))
    .join('\n');
}
