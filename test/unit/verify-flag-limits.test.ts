import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { verifyDriveFlag } from '../../src/agent/usb/verify-flag.js';
import { SCAN_FLAG_FILE, SCAN_FLAG_LIMITS } from '../../src/shared/node/scan-flag.js';
import { flagDirectory, generateEd25519KeyPair, trustOnly } from '../helpers/flags.js';
import { tempDirsPerTest } from '../helpers/processes.js';

/**
 * The drive verifier at its size limits. Kept apart from verify-flag-boundaries.test.ts because
 * each test writes tens of megabytes or 100,002 files: `npm run mutation` leaves this file out
 * (docs/mutation.md names the mutants only it kills).
 */
const station = generateEd25519KeyPair();
const VOLUME = { fsUuid: '1234-ABCD', fsType: 'vfat', label: null, usbSerial: null };
const temp = tempDirsPerTest();
const verify = (root: string) => verifyDriveFlag(root, { trust: trustOnly(station), volume: { fsUuid: '1234-ABCD', usbSerial: null }, level: 'fast' });

describe('drive verifier limits', () => {
  it('reads a flag of exactly the largest size, and refuses one byte more', async () => {
    const root = temp();
    const text = JSON.stringify(await flagDirectory(root, { key: station, volume: VOLUME }));
    // A valid flag padded with trailing spaces: still JSON.
    writeFileSync(join(root, SCAN_FLAG_FILE), text.padEnd(SCAN_FLAG_LIMITS.maxFlagBytes, ' '));
    expect(await verify(root)).toMatchObject({ ok: true, reason: 'ok' });
    writeFileSync(join(root, SCAN_FLAG_FILE), text.padEnd(SCAN_FLAG_LIMITS.maxFlagBytes + 1, ' '));
    expect(await verify(root)).toMatchObject({ ok: false, reason: 'malformed', detail: `flag file is larger than ${SCAN_FLAG_LIMITS.maxFlagBytes} bytes` });
  });

  it('counts a drive with more files than a flag may list, naming at most fifty', async () => {
    const root = temp();
    await flagDirectory(root, { key: station, volume: VOLUME });
    mkdirSync(join(root, 'many'));
    for (let i = 0; i < SCAN_FLAG_LIMITS.maxFiles + 2; i++) writeFileSync(join(root, 'many', String(i)), '');
    const v = await verify(root);
    expect(v.ok).toBe(false);
    expect(v.reason).toBe('changed-since-scan');
    // The walk stops one past the largest manifest; the rest shows up as one more addition.
    expect(v.changes!.counts).toEqual({ added: SCAN_FLAG_LIMITS.maxFiles + 2, removed: 0, modified: 0 });
    expect(v.changes!.added).toHaveLength(50);
    expect(v.detail).toMatch(/^drive changed since it was scanned: 100002 added \(many\/\d+, many\/\d+, many\/\d+, …\)$/);
    expect(v.stats.files).toBe(SCAN_FLAG_LIMITS.maxFiles + 1);
  });
});
