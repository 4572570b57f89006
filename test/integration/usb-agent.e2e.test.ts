import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateEd25519KeyPair } from '../../src/shared/node/crypto.js';
import type { AgentEvent } from '../../src/shared/events.js';
import { SCAN_FLAG_FILE, type ScanFlag } from '../../src/shared/node/scan-flag.js';
import type { UsbDecisionData, UsbPolicy } from '../../src/shared/usb-policy.js';
import { loadOrCreateStationKey } from '../../src/station/station-key.js';
import { makeTestDatabase, TEST_MALWARE } from '../helpers/clamav.js';
import { flagDirectory } from '../helpers/flags.js';
import { startAgentProcess, startConsoleProcess, type ConsoleHandle } from '../helpers/fleet.js';
import { cleanupDrives, isRoot, leftoverLoopDevices, makeExfatDrive, makeExt4Drive, moveDrive, sh, type LoopDrive } from '../helpers/loop-fs.js';
import { runCli, stopAll, tempDir, waitUntil, type Proc } from '../helpers/processes.js';
import { skipReason } from '../helpers/requirements.js';

/**
 * The laptop side of USB control, end to end: a real console, a real agent process (root) and
 * real drives — ext4 and exFAT-through-FUSE images on loop devices. A drive is prepared and
 * scanned by the real `vigil scan` (ClamAV with the test's own database) at a "station" mount
 * point, then unplugged and plugged in at the "laptop" media directory the agent watches (the
 * policy's treatAsRemovable rule names it: loop devices are not removable to the kernel).
 */
const tools = ['clamscan', 'mkfs.ext4', 'mkfs.exfat', 'mount.exfat-fuse', 'losetup', 'findmnt', 'blkid'];
const missing = tools.filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);
const skip = skipReason('usb-agent e2e', !isRoot() ? 'not root (loop mounts need root)' : missing.length ? `missing tools: ${missing.join(', ')}` : null);

type Decision = { type: string; seq: number; data: UsbDecisionData };

describe.skipIf(skip !== null)('USB gate on the laptop: real console, agent, drives', () => {
  const work = tempDir('vigil-usbgate-');
  const media = join(work.path, 'media');
  const stationDir = join(work.path, 'station');
  const udevDir = join(work.path, 'udev');
  const db = makeTestDatabase(join(work.path, 'db'));
  const keyPath = join(work.path, 'station-key', 'station-key.pem');
  let consoleProc: ConsoleHandle;
  let agent: Proc;
  let plugs = 0;
  let policyVersion = 0;
  let presentAtStart: LoopDrive;
  const env = () => ({ VIGIL_CONSOLE_URL: consoleProc.url, VIGIL_TOKEN: consoleProc.token });

  const basePolicy: Partial<UsbPolicy> = {
    verification: 'fast',
    response: 'block',
    allowSerials: [{ serial: 'SCHOOL-ISSUED-0001', note: 'encrypted staff drive' }],
    treatAsRemovable: [{ mountPoint: `${media}/*`, source: '/dev/loop*', note: 'this test rig' }],
  };

  async function pushPolicy(usb: Partial<UsbPolicy>): Promise<number> {
    const file = join(work.path, `policy-${Date.now()}.json`);
    writeFileSync(file, JSON.stringify({ format: 'vigil-policy/1', name: 'USB test', agent: { heartbeatSeconds: 5, statusSeconds: 10 }, usb }));
    const r = await runCli(['policy', 'push', file], env());
    expect(r.code, r.stderr).toBe(0);
    const version = Number(/as version (\d+)/.exec(r.stdout)![1]);
    await waitForApplied(version);
    return version;
  }
  async function waitForApplied(version: number): Promise<void> {
    await agent.waitFor(new RegExp(`applied policy \\{"version":${version},`), 20_000, 'stderr');
    policyVersion = version;
  }

  async function usbEvents(): Promise<Decision[]> {
    const r = await consoleProc.api('/api/v1/events?limit=1000');
    return (r.body.events as { event: AgentEvent }[])
      .map((e) => e.event)
      .filter((e) => e.type.startsWith('usb.'))
      .map((e) => ({ type: e.type, seq: e.seq, data: e.data as UsbDecisionData }))
      .sort((a, b) => a.seq - b.seq);
  }
  /** The agent's decision about a mount point (the n-th one, for re-checks), from the console. */
  async function decisionFor(mountPoint: string, nth = 1, timeoutMs = 20_000): Promise<Decision> {
    return waitUntil(
      async () => (await usbEvents()).filter((e) => e.data.mountPoint === mountPoint)[nth - 1],
      timeoutMs,
      () => `usb decision #${nth} for ${mountPoint}\n${agent.stderr.slice(-3000)}`,
    );
  }
  const mounted = (mountPoint: string) =>
    readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .find((l) => l.split(' ')[4] === mountPoint) ?? null;

  /** Unplug from wherever it is, plug in at a fresh place under the watched media directory. */
  function plug(drive: LoopDrive): { mountPoint: string; pluggedAt: number } {
    const mountPoint = join(media, `drive-${++plugs}`);
    const before = Date.now();
    moveDrive(drive, mountPoint);
    return { mountPoint, pluggedAt: before };
  }
  function toStation(drive: LoopDrive): string {
    const dir = join(stationDir, `s-${++plugs}`);
    moveDrive(drive, dir);
    return dir;
  }
  function fill(root: string): void {
    mkdirSync(join(root, 'Homework/Science'), { recursive: true });
    writeFileSync(join(root, 'Homework/Science/volcano report.txt'), 'Magma rises.\n'.repeat(500));
    writeFileSync(join(root, 'Homework/photo.jpg'), Buffer.alloc(200_000, 0x5a));
    writeFileSync(join(root, 'notes.md'), '# Notes\n');
  }
  const scan = (mount: string, stationId = 'library-station') =>
    runCli(['scan', mount, '--station-key', keyPath, '--station-id', stationId, '--database', db], {}, 120_000);

  /** A drive filled and scanned clean by the real station, still at the station. */
  async function scannedDrive(kind: 'ext4' | 'exfat' = 'ext4'): Promise<LoopDrive> {
    const drive = kind === 'ext4' ? makeExt4Drive(64) : makeExfatDrive(64);
    const at = toStation(drive);
    fill(at);
    const r = await scan(at);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/CLEAN: 3 files/);
    return drive;
  }

  beforeAll(async () => {
    mkdirSync(media, { recursive: true });
    mkdirSync(udevDir, { recursive: true });
    mkdirSync(join(work.path, 'station-key'), { recursive: true });
    consoleProc = await startConsoleProcess(join(work.path, 'console'));
    const key = loadOrCreateStationKey(keyPath);
    const reg = await runCli(['station', 'register', '--id', 'library-station', '--public-key', key.publicKey], env());
    expect(reg.code, reg.stderr).toBe(0);
    expect(reg.stdout).toMatch(/no policy published yet/);
    // An unscanned drive is already plugged in when the agent starts.
    presentAtStart = makeExt4Drive(64);
    fill(presentAtStart.mount);
    moveDrive(presentAtStart, join(media, 'present-at-start'));
    const file = join(work.path, 'policy-0.json');
    writeFileSync(file, JSON.stringify({ format: 'vigil-policy/1', name: 'USB test', agent: { heartbeatSeconds: 5, statusSeconds: 10 }, usb: basePolicy }));
    const pushed = await runCli(['policy', 'push', file], env());
    expect(pushed.code, pushed.stderr).toBe(0);
    // --udev-data: this rig has no udevd, so the test writes udev's database entries itself.
    agent = startAgentProcess(join(work.path, 'agent'), consoleProc.url, { VIGIL_LOG_LEVEL: 'info' }, ['--udev-data', udevDir]);
    await waitForApplied(Number(/as version (\d+)/.exec(pushed.stdout)![1]));
  }, 120_000);

  afterAll(async () => {
    await stopAll();
    cleanupDrives();
    // Plug points the test made under media/ and station/.
    rmSync(work.path, { recursive: true, force: true });
    expect(leftoverLoopDevices()).toBe('');
  });

  it('checks drives already mounted when the agent starts: an unscanned one is unmounted', async () => {
    const d = await decisionFor(presentAtStart.mount);
    expect(d).toMatchObject({ type: 'usb.blocked', data: { reason: 'not-scanned', action: 'unmounted', actionOk: true, classifiedBy: 'policy' } });
    expect(mounted(presentAtStart.mount)).toBeNull();
  });

  it('a drive scanned clean by vigil scan mounts and stays mounted', async () => {
    const drive = await scannedDrive('ext4');
    const { mountPoint } = plug(drive);
    const d = await decisionFor(mountPoint);
    expect(d).toMatchObject({ type: 'usb.allowed', data: { reason: 'ok', action: 'none', stationId: 'library-station', files: 3, level: 'fast' } });
    // Held read-only and non-executable while it was checked, then given back as it was.
    expect(d.data.actionDetail).toBe('allowed; held read-only while checking, then restored');
    await new Promise((r) => setTimeout(r, 1500));
    const options = mounted(mountPoint)!.split(' ')[5]!.split(',');
    expect(options).toContain('rw');
    expect(options).not.toContain('noexec');
    expect(readFileSync(join(mountPoint, 'notes.md'), 'utf8')).toBe('# Notes\n');
    writeFileSync(join(mountPoint, 'new homework.txt'), 'the pupil can work on it');
  });

  it('an unscanned drive is unmounted within a second of mounting, and the pupil is told why and what to do', async () => {
    const drive = makeExt4Drive(64, 'GAMES');
    fill(toStation(drive));
    const { mountPoint, pluggedAt } = plug(drive);
    const d = await decisionFor(mountPoint);
    expect(d).toMatchObject({ type: 'usb.blocked', data: { reason: 'not-scanned', action: 'unmounted', actionOk: true, label: 'GAMES', fsType: 'ext4' } });
    const blockedAt = Date.parse(d.data.detectedAt) + d.data.decisionMs;
    const latency = blockedAt - pluggedAt;
    console.log(`[usb-agent e2e] unscanned drive blocked ${latency} ms after the mount command started (agent: ${d.data.decisionMs} ms from detection)`);
    expect(latency).toBeLessThan(1000);
    expect(mounted(mountPoint)).toBeNull();
    const [, fields] = await agent.waitFor(/usb notice for the pupil (\{.*GAMES.*\})$/m, 5000, 'stderr');
    const notice = JSON.parse(fields!) as { title: string; why: string; whatToDo: string };
    expect(notice.title).toBe('"GAMES" was not opened');
    expect(notice.why).toBe('The drive "GAMES" was not opened because it has not been checked for viruses at the school scan station.');
    expect(notice.whatToDo).toMatch(/^Take the drive to the school scan station/);
  });

  it('rejects a flag copied from another drive with the same files', async () => {
    const source = await scannedDrive('ext4');
    const flag = readFileSync(join(source.mount, SCAN_FLAG_FILE));
    const copy = makeExt4Drive(64);
    const at = toStation(copy);
    fill(at);
    writeFileSync(join(at, SCAN_FLAG_FILE), flag);
    const { mountPoint } = plug(copy);
    expect(await decisionFor(mountPoint)).toMatchObject({ type: 'usb.blocked', data: { reason: 'wrong-volume', action: 'unmounted' } });
  });

  it('detects a file added or changed after the scan (fast)', async () => {
    const drive = await scannedDrive('ext4');
    writeFileSync(join(drive.mount, 'Homework/game.exe'), 'MZ not homework');
    const added = plug(drive);
    const a = await decisionFor(added.mountPoint);
    expect(a).toMatchObject({ type: 'usb.blocked', data: { reason: 'changed-since-scan', level: 'fast' } });
    expect(a.data.detail).toContain('Homework/game.exe');

    const at = toStation(drive);
    rmSync(join(at, 'Homework/game.exe'));
    expect((await scan(at)).code).toBe(0);
    writeFileSync(join(at, 'notes.md'), '# Notes, edited after the scan\n');
    const changed = plug(drive);
    const c = await decisionFor(changed.mountPoint);
    expect(c).toMatchObject({ type: 'usb.blocked', data: { reason: 'changed-since-scan', level: 'fast' } });
    expect(c.data.detail).toContain('modified (notes.md)');
  });

  it('strict re-hashes everything: a same-size change with the old mtime put back is caught', async () => {
    await pushPolicy({ ...basePolicy, verification: 'strict' });
    try {
      const drive = await scannedDrive('ext4');
      const file = join(drive.mount, 'notes.md');
      const before = statSync(file);
      writeFileSync(file, '# Notez\n');
      utimesSync(file, before.atime, (Math.trunc(before.mtimeMs) + 0.5) / 1000);
      const p = plug(drive);
      const d = await decisionFor(p.mountPoint);
      expect(d).toMatchObject({ type: 'usb.blocked', data: { reason: 'changed-since-scan', level: 'strict', hashedFiles: 3 } });
      expect(d.data.detail).toContain('modified (notes.md)');
      // And an added file, strict too.
      const at = toStation(drive);
      expect((await scan(at)).code).toBe(0);
      writeFileSync(join(at, 'extra.txt'), 'added later');
      const again = plug(drive);
      expect(await decisionFor(again.mountPoint)).toMatchObject({ type: 'usb.blocked', data: { reason: 'changed-since-scan', level: 'strict' } });
    } finally {
      await pushPolicy(basePolicy);
    }
  });

  it('rejects an expired flag and a flag from a station key the console never registered', async () => {
    const station = loadOrCreateStationKey(keyPath);
    const expired = makeExt4Drive(64);
    const at = toStation(expired);
    fill(at);
    const uuid = sh('blkid', ['-o', 'value', '-s', 'UUID', expired.device]).trim();
    const volume = { fsUuid: uuid, fsType: 'ext4', label: 'PUPILDRIVE', usbSerial: null };
    await flagDirectory(at, {
      key: { publicKey: station.publicKey, privateKeyPem: station.privateKeyPem },
      volume,
      stationId: 'library-station',
      scannedAt: new Date(Date.now() - 3 * 86_400_000),
      expiresDays: 1,
    });
    const e = plug(expired);
    expect(await decisionFor(e.mountPoint)).toMatchObject({ type: 'usb.blocked', data: { reason: 'expired' } });

    const stranger = generateEd25519KeyPair();
    const unknown = makeExt4Drive(64);
    const at2 = toStation(unknown);
    fill(at2);
    const uuid2 = sh('blkid', ['-o', 'value', '-s', 'UUID', unknown.device]).trim();
    await flagDirectory(at2, { key: stranger, volume: { ...volume, fsUuid: uuid2 }, stationId: 'library-station' });
    const u = plug(unknown);
    const d = await decisionFor(u.mountPoint);
    expect(d).toMatchObject({ type: 'usb.blocked', data: { reason: 'unknown-station' } });
    const notice = await agent.waitFor(new RegExp(`"mountPoint":"${u.mountPoint}","reason":"unknown-station"`), 5000, 'stderr');
    expect(notice).toBeTruthy();
  });

  it('a station revoked at the console: new policy version, and the agent rejects its flags (even on a drive already open)', async () => {
    const labKeyPath = join(work.path, 'station-key', 'lab.pem');
    const lab = loadOrCreateStationKey(labKeyPath);
    // Technicians cannot manage stations.
    const tech = await consoleProc.api('/api/v1/users', {
      method: 'POST',
      body: JSON.stringify({ username: 'tech', password: 'tech-password-1234', role: 'technician' }),
    });
    expect(tech.status).toBe(201);
    const techLogin = await consoleProc.api('/api/v1/login', {
      method: 'POST',
      body: JSON.stringify({ username: 'tech', password: 'tech-password-1234' }),
      token: null,
    });
    const denied = await consoleProc.api('/api/v1/stations', {
      method: 'POST',
      body: JSON.stringify({ id: 'lab-station', publicKey: lab.publicKey }),
      token: techLogin.body.token,
    });
    expect(denied.status).toBe(403);
    const bad = await runCli(['station', 'register', '--id', 'lab station!', '--public-key', 'not-a-key'], env());
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/id|publicKey/);

    const reg = await runCli(['station', 'register', '--id', 'lab-station', '--public-key', lab.publicKey], env());
    expect(reg.code, reg.stderr).toBe(0);
    const regVersion = Number(/policy version (\d+)/.exec(reg.stdout)![1]);
    expect(regVersion).toBeGreaterThan(policyVersion);
    await waitForApplied(regVersion);

    const drive = makeExt4Drive(64);
    const at = toStation(drive);
    fill(at);
    const r = await runCli(['scan', at, '--station-key', labKeyPath, '--station-id', 'lab-station', '--database', db], {}, 120_000);
    expect(r.code, r.stderr).toBe(0);
    const open = plug(drive);
    expect(await decisionFor(open.mountPoint)).toMatchObject({ type: 'usb.allowed', data: { reason: 'ok', stationId: 'lab-station' } });

    const rev = await runCli(['station', 'revoke', 'lab-station'], env());
    expect(rev.code, rev.stderr).toBe(0);
    const revVersion = Number(/policy version (\d+)/.exec(rev.stdout)![1]);
    expect(revVersion).toBe(regVersion + 1);
    await waitForApplied(revVersion);
    // The drive that was open is checked again under the new policy and taken away.
    expect(await decisionFor(open.mountPoint, 2)).toMatchObject({ type: 'usb.blocked', data: { reason: 'revoked-station', action: 'unmounted' } });
    expect(mounted(open.mountPoint)).toBeNull();
    const replug = plug(drive);
    expect(await decisionFor(replug.mountPoint)).toMatchObject({ type: 'usb.blocked', data: { reason: 'revoked-station' } });

    const list = await runCli(['station', 'list', '--json'], env());
    const stations = JSON.parse(list.stdout) as { id: string; revokedAt: string | null; revokedBy: string | null }[];
    expect(stations.find((s) => s.id === 'lab-station')).toMatchObject({ revokedBy: 'admin', revokedAt: expect.any(String) });
    expect(stations.find((s) => s.id === 'library-station')).toMatchObject({ revokedAt: null });
    const current = await consoleProc.api('/api/v1/policies/current');
    expect(current.body.bundle.payload.stations.revoked.map((s: { id: string }) => s.id)).toEqual(['lab-station']);
    expect(current.body.bundle.payload.stations.trusted.map((s: { id: string }) => s.id)).toEqual(['library-station']);
    const again = await runCli(['station', 'revoke', 'lab-station'], env());
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/already revoked/);
    const audit = await consoleProc.api('/api/v1/audit?limit=100');
    const actions = (audit.body.audit as { action: string; target: string }[]).filter((a) => a.target === 'station:lab-station').map((a) => a.action);
    expect(actions.sort()).toEqual(['station.registered', 'station.revoked']);
  });

  it('a drive with an infected file gets no flag and is blocked', async () => {
    const drive = makeExt4Drive(64);
    const at = toStation(drive);
    fill(at);
    writeFileSync(join(at, 'Homework/free-robux.exe'), TEST_MALWARE);
    const r = await scan(at);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/INFECTED Homework\/free-robux\.exe: Vigil\.Test\.Malware/);
    expect(existsSync(join(at, SCAN_FLAG_FILE))).toBe(false);
    const p = plug(drive);
    expect(await decisionFor(p.mountPoint)).toMatchObject({ type: 'usb.blocked', data: { reason: 'not-scanned' } });
  });

  it('exFAT through FUSE: scanned clean stays mounted, unscanned and changed are blocked', async () => {
    const clean = await scannedDrive('exfat');
    const c = plug(clean);
    const allowed = await decisionFor(c.mountPoint);
    expect(allowed).toMatchObject({ type: 'usb.allowed', data: { reason: 'ok', fsType: 'exfat' } });
    expect(mounted(c.mountPoint)).toMatch(/ - fuseblk /);
    expect(readFileSync(join(c.mountPoint, 'Homework/Science/volcano report.txt'), 'utf8')).toContain('Magma');

    const at = toStation(clean);
    writeFileSync(join(at, 'Homework/Long name added later.txt'), 'new');
    const changed = plug(clean);
    const d = await decisionFor(changed.mountPoint);
    expect(d).toMatchObject({ type: 'usb.blocked', data: { reason: 'changed-since-scan', action: 'unmounted', actionOk: true } });
    expect(d.data.detail).toContain('Homework/Long name added later.txt');
    expect(mounted(changed.mountPoint)).toBeNull();

    const unscanned = makeExfatDrive(64, 'STICK');
    fill(toStation(unscanned));
    const u = plug(unscanned);
    expect(await decisionFor(u.mountPoint)).toMatchObject({ type: 'usb.blocked', data: { reason: 'not-scanned', label: 'STICK', fsType: 'exfat' } });
    expect(mounted(u.mountPoint)).toBeNull();
  });

  it('read-only response: the drive really cannot be written to or run programs from (ext4 and exFAT)', async () => {
    await pushPolicy({ ...basePolicy, response: 'read-only' });
    try {
      for (const kind of ['ext4', 'exfat'] as const) {
        const drive = kind === 'ext4' ? makeExt4Drive(64) : makeExfatDrive(64);
        const at = toStation(drive);
        fill(at);
        copyFileSync('/bin/true', join(at, 'tool'));
        execFileSync('chmod', ['755', join(at, 'tool')]);
        expect(spawnSync(join(at, 'tool')).status).toBe(0); // runs before the gate sees it
        const p = plug(drive);
        const d = await decisionFor(p.mountPoint);
        expect(d).toMatchObject({ type: 'usb.read-only', data: { reason: 'not-scanned', action: 'remounted-read-only', actionOk: true } });
        const options = mounted(p.mountPoint)!.split(' ')[5]!.split(',');
        expect(options).toEqual(expect.arrayContaining(['ro', 'noexec', 'nosuid', 'nodev']));
        let writeError: NodeJS.ErrnoException | null = null;
        try {
          writeFileSync(join(p.mountPoint, 'new.txt'), 'x');
        } catch (error) {
          writeError = error as NodeJS.ErrnoException;
        }
        expect(writeError?.code, kind).toBe('EROFS');
        const run = spawnSync(join(p.mountPoint, 'tool'));
        expect(run.error ? (run.error as NodeJS.ErrnoException).code : run.status, kind).toBe('EACCES');
        expect(readFileSync(join(p.mountPoint, 'notes.md'), 'utf8')).toBe('# Notes\n');
        // A pupil (or an automounter) remounting it writable gets it put back.
        sh('mount', ['-o', 'remount,bind,rw,exec', p.mountPoint]);
        await waitUntil(
          () => mounted(p.mountPoint)!.split(' ')[5]!.split(',').includes('noexec'),
          5000,
          () => `re-applied read-only on ${p.mountPoint}\n${agent.stderr.slice(-2000)}`,
        );
        expect(mounted(p.mountPoint)!.split(' ')[5]!.split(',')).toContain('ro');
      }
      await agent.waitFor(/"title":"\\"PUPILDRIVE\\" is read-only"/, 5000, 'stderr');
    } finally {
      await pushPolicy(basePolicy);
    }
  });

  it('allow-and-audit leaves an unscanned drive mounted and records it', async () => {
    await pushPolicy({ ...basePolicy, response: 'allow-and-audit' });
    try {
      const drive = makeExt4Drive(64);
      fill(toStation(drive));
      const p = plug(drive);
      expect(await decisionFor(p.mountPoint)).toMatchObject({
        type: 'usb.audited',
        data: { reason: 'not-scanned', action: 'none', response: 'allow-and-audit' },
      });
      expect(mounted(p.mountPoint)).toMatch(/ rw,/);
    } finally {
      await pushPolicy(basePolicy);
    }
  });

  it('malformed, truncated, oversized and hostile flags are rejected with a clear reason; the agent keeps working', async () => {
    const good = await scannedDrive('ext4');
    const valid = readFileSync(join(good.mount, SCAN_FLAG_FILE), 'utf8');
    const traversal = JSON.parse(valid) as ScanFlag;
    traversal.files[0]!.path = '../../etc/shadow';
    const cases: { name: string; write: (flagPath: string) => void; detail: RegExp }[] = [
      { name: 'not JSON', write: (f) => writeFileSync(f, 'hello, I am a flag'), detail: /not JSON/ },
      { name: 'truncated', write: (f) => writeFileSync(f, valid.slice(0, Math.floor(valid.length / 2))), detail: /not JSON/ },
      { name: 'oversized', write: (f) => writeFileSync(f, Buffer.alloc(33 * 1024 * 1024, 0x20)), detail: /larger than 33554432 bytes/ },
      { name: 'path traversal', write: (f) => writeFileSync(f, JSON.stringify(traversal)), detail: /files\.0: "\.\." segment in path/ },
      {
        name: 'huge count',
        write: (f) => writeFileSync(f, `{"format":"vigil-clean-scan","v":1,"files":[${'{},'.repeat(100_000)}{}]}`),
        detail: /manifest lists 100001 files; the limit is 100000/,
      },
      { name: 'deeply nested', write: (f) => writeFileSync(f, '['.repeat(5_000_000)), detail: /not JSON/ },
      { name: 'wrong types', write: (f) => writeFileSync(f, JSON.stringify({ ...JSON.parse(valid), v: 2, files: 'all of them' })), detail: /./ },
      { name: 'symlink', write: (f) => symlinkSync('/etc/passwd', f), detail: /not a regular file/ },
      { name: 'fifo', write: (f) => sh('mkfifo', [f]), detail: /not a regular file/ },
    ];
    for (const c of cases) {
      const at = toStation(good);
      rmSync(join(at, SCAN_FLAG_FILE), { force: true });
      c.write(join(at, SCAN_FLAG_FILE));
      const p = plug(good);
      const d = await decisionFor(p.mountPoint);
      expect(d.type, c.name).toBe('usb.blocked');
      expect(d.data.reason, c.name).toBe('malformed');
      expect(d.data.detail, c.name).toMatch(c.detail);
      expect(mounted(p.mountPoint), c.name).toBeNull();
      expect(agent.child.exitCode, c.name).toBeNull();
    }
    // Still answering: the genuine flag put back is accepted.
    const at = toStation(good);
    rmSync(join(at, SCAN_FLAG_FILE), { force: true });
    writeFileSync(join(at, SCAN_FLAG_FILE), valid);
    const p = plug(good);
    expect(await decisionFor(p.mountPoint)).toMatchObject({ type: 'usb.allowed', data: { reason: 'ok' } });
    expect(agent.stderr).not.toMatch(/ERROR \[agent\/usb\]/);
  }, 120_000);

  it('a school-issued drive on the serial allowlist is allowed without a flag; another USB serial is not', async () => {
    const write = (drive: LoopDrive, serial: string) => {
      const [major, minor] = sh('lsblk', ['-dno', 'MAJ:MIN', drive.device]).trim().split(':');
      const uuid = sh('blkid', ['-o', 'value', '-s', 'UUID', drive.device]).trim();
      // What udevd records for a USB stick (see test/fixtures/usb/linux for recorded ones).
      writeFileSync(
        join(udevDir, `b${major}:${minor}`),
        ['I:1234567', `E:ID_BUS=usb`, `E:ID_SERIAL_SHORT=${serial}`, `E:ID_FS_UUID=${uuid}`, 'E:ID_FS_TYPE=ext4', 'E:ID_FS_LABEL=STAFF', ''].join('\n'),
      );
      return () => rmSync(join(udevDir, `b${major}:${minor}`));
    };
    const issued = makeExt4Drive(64, 'STAFF');
    fill(toStation(issued));
    const undo = write(issued, 'SCHOOL-ISSUED-0001');
    const p = plug(issued);
    expect(await decisionFor(p.mountPoint)).toMatchObject({
      type: 'usb.allowed',
      data: { reason: 'allowlisted-serial', usbSerial: 'SCHOOL-ISSUED-0001', classifiedBy: 'os' },
    });
    expect(mounted(p.mountPoint)).not.toBeNull();
    undo();

    const other = makeExt4Drive(64, 'OTHER');
    fill(toStation(other));
    const undo2 = write(other, 'SOMEONE-ELSES-9');
    const q = plug(other);
    expect(await decisionFor(q.mountPoint)).toMatchObject({
      type: 'usb.blocked',
      data: { reason: 'not-scanned', usbSerial: 'SOMEONE-ELSES-9', classifiedBy: 'os' },
    });
    undo2();
  });
  it('later policy pushes report nothing for drives that were blocked and are gone, and send no notices', async () => {
    // A drive whose flag no longer matches, checked strictly (every file re-hashed), so its
    // decision can take longer than one poll of the mount table before it is unmounted.
    const drive = await scannedDrive();
    const at = toStation(drive);
    writeFileSync(join(at, 'notes.md'), '# Notes, changed after the scan\n');
    await pushPolicy({ ...basePolicy, verification: 'strict' });
    const p = plug(drive);
    expect(await decisionFor(p.mountPoint)).toMatchObject({ type: 'usb.blocked', data: { action: 'unmounted' } });
    await waitUntil(
      () => mounted(p.mountPoint) === null,
      5000,
      () => `${p.mountPoint} still mounted`,
    );
    const before = await usbEvents();
    const lastSeq = Math.max(...before.map((e) => e.seq));
    const noticesBefore = agent.stderr.split('usb notice for the pupil').length;
    for (const maxFlagAgeDays of [20, 21]) await pushPolicy({ ...basePolicy, verification: 'strict', maxFlagAgeDays });
    // A sentinel plugged after the pushes: once its decision is in, anything the pushes caused is too.
    const sentinel = makeExt4Drive(64);
    fill(toStation(sentinel));
    const s2 = plug(sentinel);
    await decisionFor(s2.mountPoint);
    const after = (await usbEvents()).filter((e) => e.seq > lastSeq && e.data.mountPoint !== s2.mountPoint);
    const gone = after.filter((e) => mounted(e.data.mountPoint) === null);
    expect(gone, JSON.stringify(gone.map((e) => [e.type, e.data.mountPoint, e.data.reason, e.data.actionDetail]))).toEqual([]);
    // Only the sentinel's notice was added.
    expect(agent.stderr.split('usb notice for the pupil').length).toBe(noticesBefore + 1);
  });
});
