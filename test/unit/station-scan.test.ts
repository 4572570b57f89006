import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { verifyDriveFlag } from '../../src/agent/usb/verify-flag.js';
import { SCAN_FLAG_FILE } from '../../src/shared/node/scan-flag.js';
import type { ClamavEngine } from '../../src/station/clamav.js';
import { scanDrive } from '../../src/station/scan.js';
import { loadOrCreateStationKey } from '../../src/station/station-key.js';
import { tempDirsPerTest } from '../helpers/processes.js';

/**
 * The station's decisions around ClamAV, with stand-in engines (shell scripts that answer the
 * way ClamAV does, or fail to). The real ClamAV runs in test/integration/usb-flag.e2e.test.ts.
 */
const temp = tempDirsPerTest();
const VOLUME = { fsUuid: 'ABCD-1234', fsType: 'vfat', label: null, usbSerial: null };

/** A shell script run as `sh -c SCRIPT --no-summary --file-list=FILE`; $1 is the list option. */
const engine = (script: string): ClamavEngine => ({
  kind: 'clamscan',
  command: 'sh',
  args: ['-c', `list="\${1#--file-list=}"; ${script}`],
  version: '1.4.6',
  databaseVersion: null,
  databaseDigest: null,
});
const ALL_OK = 'while IFS= read -r p; do echo "$p: OK"; done < "$list"';

function setup() {
  const root = temp();
  mkdirSync(join(root, 'Work'));
  writeFileSync(join(root, 'Work/a.txt'), 'a');
  writeFileSync(join(root, 'notes.txt'), 'n');
  writeFileSync(join(root, SCAN_FLAG_FILE), 'an old flag');
  const key = loadOrCreateStationKey(join(temp(), 'key.pem'));
  const scan = (e: ClamavEngine, volume = VOLUME) => scanDrive({ root, volume, engine: e, key, stationId: 'unit-station', expiresDays: 7 });
  return { root, key, scan };
}

describe('scan station decisions', () => {
  it('flags a drive when every file gets a clean verdict', async () => {
    const { root, key, scan } = setup();
    const outcome = await scan(engine(ALL_OK));
    expect(outcome).toMatchObject({ ok: true, files: 2, bytes: 2 });
    const v = await verifyDriveFlag(root, {
      trust: { stations: [{ publicKey: key.publicKey }], revokedKeyIds: [] },
      volume: { fsUuid: 'ABCD-1234', usbSerial: null },
      level: 'strict',
    });
    expect(v.ok).toBe(true);
  });

  it('treats files ClamAV said nothing about as unscanned, and deletes the old flag', async () => {
    const { root, scan } = setup();
    const outcome = await scan(engine('exit 0'));
    expect(outcome).toMatchObject({
      ok: false,
      reason: 'unscannable',
      problems: [
        { path: 'Work/a.txt', problem: 'not scanned by ClamAV' },
        { path: 'notes.txt', problem: 'not scanned by ClamAV' },
      ],
    }); // sorted by path
    expect(existsSync(join(root, SCAN_FLAG_FILE))).toBe(false);
  });

  it('reports per-file errors and an engine that fails outright', async () => {
    const { scan } = setup();
    const oneError = await scan(engine(`${ALL_OK} | sed 's#notes.txt: OK#notes.txt: Can'"'"'t read file ERROR#'; exit 2`));
    expect(oneError).toMatchObject({ ok: false, reason: 'unscannable', problems: [{ path: 'notes.txt', problem: "Can't read file ERROR" }] });
    const broken = await scan(engine(`${ALL_OK}; echo "LibClamAV Error: cli_loaddb(): No supported database files found" >&2; exit 2`));
    expect(broken).toMatchObject({ ok: false, reason: 'unscannable', problems: [{ path: '.', problem: expect.stringContaining('No supported database') }] });
  });

  it('refuses a drive that changed during the scan, or that has no identity', async () => {
    const { root, scan } = setup();
    // The pause lets the hashing (which runs beside ClamAV) finish first: this is the re-walk's catch.
    const changed = await scan(engine(`${ALL_OK}; sleep 1; echo more >> '${root}/notes.txt'; echo new > '${root}/Work/b.txt'`));
    expect(changed).toMatchObject({ ok: false, reason: 'changed-during-scan' });
    expect(changed.ok || changed.problems.map((p) => p.path)).toEqual(['Work/b.txt', 'notes.txt']);
    const anonymous = await scan(engine(ALL_OK), { ...VOLUME, fsUuid: null });
    expect(anonymous).toMatchObject({ ok: false, reason: 'no-volume-id' });
  });
});
