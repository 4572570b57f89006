import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateEd25519KeyPair, keyId } from '../../src/shared/node/crypto.js';
import { signStationReport, type StationReportPayload } from '../../src/shared/node/station-report.js';
import { loadOrCreateStationKey } from '../../src/station/station-key.js';
import { makeTestDatabase, TEST_MALWARE } from '../helpers/clamav.js';
import { startConsoleProcess, type ConsoleHandle } from '../helpers/fleet.js';
import { cleanupDrives, isRoot, leftoverLoopDevices, makeExt4Drive, type LoopDrive } from '../helpers/loop-fs.js';
import { freePort, runCli, tempDir } from '../helpers/processes.js';
import { skipReason } from '../helpers/requirements.js';

/**
 * The scan station tells the console what it found: a real console process, real `vigil scan`
 * runs over ext4 images on loop devices with ClamAV and the test's own database, and the
 * console's station registry deciding which reports it believes.
 */
const tools = ['clamscan', 'mkfs.ext4', 'losetup', 'findmnt', 'blkid'];
const missing = tools.filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);
const skip = skipReason('station-report e2e', !isRoot() ? 'not root (loop mounts need root)' : missing.length ? `missing tools: ${missing.join(', ')}` : null);

describe.skipIf(skip !== null)('scan station reports to the console', () => {
  const work = tempDir('vigil-stationreport-');
  const db = makeTestDatabase(join(work.path, 'db'));
  const keyPath = join(work.path, 'keys', 'library.pem');
  const labKeyPath = join(work.path, 'keys', 'lab.pem');
  const rogueKeyPath = join(work.path, 'keys', 'rogue.pem');
  let consoleProc: ConsoleHandle;
  let clean: LoopDrive;
  let infected: LoopDrive;
  const admin = () => ({ VIGIL_CONSOLE_URL: consoleProc.url, VIGIL_TOKEN: consoleProc.token });

  const scan = (mount: string, opts: { key?: string; id?: string; consoleUrl?: string } = {}) =>
    runCli(
      [
        'scan',
        mount,
        '--station-key',
        opts.key ?? keyPath,
        '--station-id',
        opts.id ?? 'library-station',
        '--database',
        db,
        '--console',
        opts.consoleUrl ?? consoleProc.url,
      ],
      {},
      120_000,
    );
  const reports = async (station: string) => {
    const r = await consoleProc.api(`/api/v1/stations/${station}/reports`);
    expect(r.status).toBe(200);
    return r.body.reports as (StationReportPayload & { receivedAt: string })[];
  };
  const scanAudits = async () => {
    const r = await consoleProc.api('/api/v1/audit?limit=1000');
    return (r.body.audit as { action: string }[]).filter((a) => a.action === 'station.scan').length;
  };
  const post = (station: string, body: string) => consoleProc.api(`/api/v1/stations/${station}/reports`, { method: 'POST', body, token: null });

  function fill(root: string): void {
    mkdirSync(join(root, 'Homework'), { recursive: true });
    writeFileSync(join(root, 'Homework/essay.txt'), 'Volcanoes.\n'.repeat(200));
    writeFileSync(join(root, 'notes.md'), '# Notes\n');
  }

  beforeAll(async () => {
    mkdirSync(join(work.path, 'keys'), { recursive: true });
    consoleProc = await startConsoleProcess(join(work.path, 'console'));
    for (const [id, path] of [
      ['library-station', keyPath],
      ['lab-station', labKeyPath],
    ] as const) {
      const reg = await runCli(['station', 'register', '--id', id, '--public-key', loadOrCreateStationKey(path).publicKey], admin());
      expect(reg.code, reg.stderr).toBe(0);
    }
    const rev = await runCli(['station', 'revoke', 'lab-station'], admin());
    expect(rev.code, rev.stderr).toBe(0);
    clean = makeExt4Drive(32, 'CLEANDRIVE');
    fill(clean.mount);
    infected = makeExt4Drive(32, 'PUPILDRIVE');
    fill(infected.mount);
    writeFileSync(join(infected.mount, 'Homework/free-robux.exe'), TEST_MALWARE);
  }, 120_000);

  afterAll(async () => {
    await consoleProc?.stop();
    cleanupDrives();
    work.remove();
    expect(leftoverLoopDevices()).toBe('');
  });

  it('an infected drive: no flag, exit 1, and the console holds a report naming the file and signature', async () => {
    const r = await scan(infected.mount);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/INFECTED Homework\/free-robux\.exe: Vigil\.Test\.Malware/);
    const told = /Console told: report ([0-9a-f-]{36}) \(infected\) stored/.exec(r.stdout);
    expect(told, r.stdout).not.toBeNull();
    const [report] = await reports('library-station');
    expect(report).toMatchObject({
      reportId: told![1],
      outcome: 'infected',
      station: { id: 'library-station', keyId: keyId(loadOrCreateStationKey(keyPath).publicKey) },
      counts: { files: 3, infected: 1, problems: 0 },
      findings: [{ kind: 'infected', path: 'Homework/free-robux.exe', problem: expect.stringMatching(/^Vigil\.Test\.Malware/) }],
      volume: { fsType: 'ext4', label: 'PUPILDRIVE' },
      engine: { name: 'clamav', version: expect.stringMatching(/\d/) },
    });
    expect(await scanAudits()).toBe(1);
  });

  it('a clean drive is reported as clean', async () => {
    const r = await scan(clean.mount);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/CLEAN: 2 files/);
    expect(r.stdout).toMatch(/Console told: report \S+ \(clean\) stored/);
    const [latest] = await reports('library-station');
    expect(latest).toMatchObject({ outcome: 'clean', counts: { files: 2, infected: 0, problems: 0 }, findings: [], volume: { label: 'CLEANDRIVE' } });
    expect(await scanAudits()).toBe(2);
  });

  it('reports from an unregistered key or a revoked station are refused and change nothing; the scan result stands', async () => {
    const rogue = await scan(clean.mount, { key: rogueKeyPath, id: 'rogue-station' });
    expect(rogue.code, rogue.stderr).toBe(0);
    expect(rogue.stdout).toMatch(/CLEAN: 2 files/);
    expect(rogue.stdout).toMatch(/CONSOLE NOT TOLD: the console refused the report \(401\): no scan station "rogue-station" is registered/);

    const revoked = await scan(infected.mount, { key: labKeyPath, id: 'lab-station' });
    expect(revoked.code).toBe(1);
    expect(revoked.stdout).toMatch(/CONSOLE NOT TOLD: the console refused the report \(403\): station "lab-station" was revoked/);

    // An impostor key claiming to be the registered station.
    const impostor = generateEd25519KeyPair();
    const forged = signStationReport(
      {
        reportId: crypto.randomUUID(),
        station: { id: 'library-station', keyId: keyId(impostor.publicKey) },
        scannedAt: new Date().toISOString(),
        outcome: 'clean',
        detail: 'all fine',
        counts: { files: 0, bytes: 0, infected: 0, problems: 0 },
        findings: [],
        findingsOmitted: 0,
        volume: { fsUuid: null, fsType: null, label: null, usbSerial: 'X' },
        engine: { name: 'clamav', version: '1', databaseVersion: null },
      },
      impostor.privateKeyPem,
      impostor.publicKey,
    );
    const refused = await post('library-station', JSON.stringify(forged));
    expect(refused).toMatchObject({ status: 401, body: { error: 'bad-signature' } });

    expect(await reports('rogue-station')).toEqual([]);
    expect(await reports('lab-station')).toEqual([]);
    expect(await reports('library-station')).toHaveLength(2);
    expect(await scanAudits()).toBe(2);
  });

  it('a malformed body gets 400 and stores nothing; reading reports needs stations:manage', async () => {
    for (const body of ['{not json', '{}', JSON.stringify({ payload: { outcome: 'clean' }, signature: null })]) {
      const r = await post('library-station', body);
      expect(r.status, body).toBe(400);
      expect(r.body.message).toBeTruthy();
    }
    expect((await post('not a station!', '{}')).status).toBe(400);
    expect((await consoleProc.api('/api/v1/stations/library-station/reports', { token: null })).status).toBe(401);
    expect(await scanAudits()).toBe(2);
  });

  it('when the console cannot be reached the CLI says so and the exit code is unchanged', async () => {
    const nowhere = `http://127.0.0.1:${await freePort()}`;
    const r = await scan(infected.mount, { consoleUrl: nowhere });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/INFECTED Homework\/free-robux\.exe/);
    expect(r.stdout).toContain(`CONSOLE NOT TOLD: cannot reach the console at ${nowhere}`);
    const bad = await runCli(['scan', clean.mount, '--station-key', keyPath, '--database', db, '--console', 'ftp://x']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--console must be an http\(s\) URL/);
  });
});
