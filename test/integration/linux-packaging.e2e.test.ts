import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import yaml from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateEd25519KeyPair, publicKeyFromPrivatePem } from '../../src/shared/node/crypto.js';
import { signPayload } from '../../src/shared/node/signing.js';
import { ENROLL_TOKEN, startConsoleProcess, type ConsoleHandle } from '../helpers/fleet.js';
import { REPO, runCli, stopAll, tempDir, waitUntil } from '../helpers/processes.js';
import { skipReason } from '../helpers/requirements.js';

/**
 * The deb/rpm maintainer scripts (installer/linux) run for real against a scratch root
 * ($VIGIL_ROOT) and a real console process: install (directories, unit, autostart entry,
 * enrollment from etc/vigil/enroll.json), start (the agent connects: the device is online),
 * remove (the console is told and revokes the device, audited) and purge (nothing left).
 * PID 1 is not systemd here, so the scripts take their documented no-systemd path.
 */
const skip = skipReason('linux packaging', process.getuid?.() === 0 ? null : 'needs root (the scripts set root-only modes, as dpkg runs them)');
const run = promisify(execFile);

let root: ReturnType<typeof tempDir>;
let consoleProc: ConsoleHandle;
let consoleKey: string;
let skeleton: string[];
const R = (...parts: string[]) => join(root.path, ...parts);
const mode = (path: string) => statSync(path).mode & 0o7777;

/** Runs one maintainer script from the repo the way dpkg does: `sh script <action>`. */
async function maintainerScript(name: 'postinst' | 'prerm' | 'postrm', action: string, scratchRoot = root.path) {
  return run('sh', [join(REPO, 'installer/linux', name), action], {
    env: { ...process.env, VIGIL_ROOT: scratchRoot, VIGIL_BACKOFF_MAX_MS: '1000' },
    timeout: 60_000,
  });
}

function listTree(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .map((e) => relative(dir, join(e.parentPath, e.name)) + (e.isDirectory() ? '/' : ''))
    .sort();
}

const agentPid = () => (existsSync(R('run/vigil/agent.pid')) ? Number(readFileSync(R('run/vigil/agent.pid'), 'utf8')) : null);
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

beforeAll(async () => {
  if (skip) return;
  root = tempDir('vigil-root-');
  // A bare system: the directories a distribution already has.
  for (const dir of ['etc/default', 'etc/xdg/autostart', 'usr/bin', 'usr/lib/systemd/system', 'var/lib', 'var/log', 'run', 'opt'])
    mkdirSync(R(dir), { recursive: true });
  skeleton = listTree(root.path);
  // What dpkg unpacks before the postinst: /opt/Vigil with the service staged as
  // installer/stage-service.mjs lays it out (here linked to this checkout's build) and the
  // Linux resources electron-builder.yml ships.
  const service = R('opt/Vigil/resources/service');
  mkdirSync(service, { recursive: true });
  symlinkSync(process.execPath, join(service, 'node'));
  for (const entry of ['bin', 'dist', 'node_modules', 'package.json']) symlinkSync(join(REPO, entry), join(service, entry));
  const config = yaml.load(readFileSync(join(REPO, 'electron-builder.yml'), 'utf8')) as {
    linux: { extraResources: { from: string; to: string; filter: string[] }[] };
  };
  for (const { from, to, filter } of config.linux.extraResources) {
    mkdirSync(R('opt/Vigil/resources', to), { recursive: true });
    for (const file of filter) copyFileSync(join(REPO, from, file), R('opt/Vigil/resources', to, file));
  }
  consoleProc = await startConsoleProcess(R('console-data-outside-the-package'));
  consoleKey = publicKeyFromPrivatePem(readFileSync(R('console-data-outside-the-package/console-signing-key.pem'), 'utf8'));
});

afterAll(async () => {
  if (skip) return;
  const pid = agentPid();
  if (pid && alive(pid)) process.kill(pid, 'SIGKILL');
  await stopAll();
  root.remove();
});

describe.skipIf(skip)('deb/rpm maintainer scripts in a scratch root', () => {
  let deviceId: string;

  it('install: directories with the right modes, the unit, the autostart entry, enrollment from etc/vigil/enroll.json', async () => {
    // The Systems Manager's part: the enrollment file (as the packaging docs say) and, here,
    // agent options without exec marks so the test does not watch the host's /home and /tmp.
    const written = await runCli([
      'install-config',
      '--console-url',
      consoleProc.url,
      '--enroll-token',
      ENROLL_TOKEN,
      '--console-key',
      consoleKey,
      '--out',
      R('etc/vigil/enroll.json'),
    ]);
    expect(written.code, written.stderr).toBe(0);
    writeFileSync(R('etc/default/vigil-agent'), 'VIGIL_AGENT_ARGS=""\n');

    const { stderr } = await maintainerScript('postinst', 'configure');
    expect(stderr).toMatch(/systemd is not running: started the agent/);
    expect(mode(R('etc/vigil'))).toBe(0o755);
    expect(mode(R('etc/vigil/enroll.json'))).toBe(0o600);
    expect(mode(R('var/lib/vigil'))).toBe(0o700);
    expect(mode(R('var/log/vigil'))).toBe(0o750);
    expect(readFileSync(R('usr/lib/systemd/system/vigil-agent.service'), 'utf8')).toBe(readFileSync(join(REPO, 'installer/linux/vigil-agent.service'), 'utf8'));
    // systemd's own checker, against the scratch root (unknown keys, a missing ExecStart binary).
    const verify = await run('systemd-analyze', [
      'verify',
      '--recursive-errors=no',
      '--man=no',
      `--root=${root.path}`,
      R('usr/lib/systemd/system/vigil-agent.service'),
    ]);
    expect(verify.stdout + verify.stderr).toBe('');
    const unit = readFileSync(R('usr/lib/systemd/system/vigil-agent.service'), 'utf8');
    for (const line of ['Restart=always', 'NoNewPrivileges=yes', 'StateDirectoryMode=0700', 'UMask=0077']) expect(unit).toContain(`\n${line}\n`);
    expect(readFileSync(R('etc/xdg/autostart/vigil-tray.desktop'), 'utf8')).toMatch(/^Exec=\/usr\/bin\/vigil-tray /m);
    const desktop = await run('desktop-file-validate', [R('etc/xdg/autostart/vigil-tray.desktop')]);
    expect(desktop.stdout + desktop.stderr).toBe('');
    expect(mode(R('usr/bin/vigil'))).toBe(0o755);
    expect(readFileSync(R('etc/default/vigil-agent'), 'utf8')).toBe('VIGIL_AGENT_ARGS=""\n'); // the admin's file is kept

    const device = JSON.parse(readFileSync(R('var/lib/vigil/device.json'), 'utf8'));
    deviceId = device.deviceId;
    expect(device.consolePublicKey).toBe(consoleKey);
    expect(mode(R('var/lib/vigil/device-key.pem'))).toBe(0o600);
    const listed = (await consoleProc.api('/api/v1/devices')).body.devices;
    expect(listed.map((d: { id: string }) => d.id)).toContain(deviceId);
  });

  it('start: the agent the postinst started connects, and the console shows the device online', async () => {
    const pid = agentPid();
    expect(pid).toBeGreaterThan(0);
    expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')).toEqual(expect.arrayContaining(['agent', '--data-dir', R('var/lib/vigil')]));
    await waitUntil(
      async () => (await consoleProc.api(`/api/v1/devices/${deviceId}`)).body.device.online,
      20_000,
      () => readFileSync(R('var/log/vigil/agent.log'), 'utf8'),
    );
    // Running the postinst again (a reconfigure) neither re-enrolls nor starts a second agent.
    const again = await maintainerScript('postinst', 'configure');
    expect(again.stdout).toMatch(/already enrolled/);
    expect(again.stderr).toMatch(/already running/);
  });

  it('upgrade: the console is not told; rpm leaves the agent running, deb stops it and the new postinst starts it', async () => {
    const online = async () => (await consoleProc.api(`/api/v1/devices/${deviceId}`)).body.device.online as boolean;
    const first = agentPid()!;
    await maintainerScript('prerm', '1'); // rpm %preun during an upgrade: the new version is already in
    expect(alive(first)).toBe(true);
    await maintainerScript('postrm', '1');
    expect(alive(first)).toBe(true);
    await maintainerScript('prerm', 'upgrade'); // deb: the old version's prerm
    expect(alive(first)).toBe(false);
    await waitUntil(
      async () => !(await online()),
      20_000,
      () => 'the console still shows the stopped agent online',
    );
    expect((await consoleProc.api(`/api/v1/devices/${deviceId}`)).body.device.revoked).toBe(false);
    expect(existsSync(R('var/lib/vigil/device-key.pem'))).toBe(true);
    await maintainerScript('postinst', 'configure'); // the new version's postinst
    expect(agentPid()).not.toBe(first);
    await waitUntil(online, 20_000, () => readFileSync(R('var/log/vigil/agent.log'), 'utf8'));
  });

  it('the console refuses an uninstall notice not signed by the device, and a malformed one', async () => {
    const stranger = generateEd25519KeyPair();
    const payload = { deviceId, reason: 'package-removed', sentAt: new Date().toISOString() };
    const forged = await consoleProc.api(`/api/v1/devices/${deviceId}/uninstall`, {
      method: 'POST',
      token: null,
      body: JSON.stringify({ payload, signature: signPayload('uninstall', payload, stranger.privateKeyPem, stranger.publicKey) }),
    });
    expect(forged).toMatchObject({ status: 401, body: { error: 'bad-signature' } });
    const malformed = await consoleProc.api(`/api/v1/devices/${deviceId}/uninstall`, {
      method: 'POST',
      token: null,
      body: JSON.stringify({ payload: { deviceId } }),
    });
    expect(malformed.status).toBe(400);
    expect((await consoleProc.api(`/api/v1/devices/${deviceId}`)).body.device).toMatchObject({ online: true, revoked: false });
  });

  it('remove: the agent stops, the console revokes the device and audits that the device said so', async () => {
    const pid = agentPid()!;
    await maintainerScript('prerm', 'remove');
    expect(alive(pid)).toBe(false);
    const device = (await consoleProc.api(`/api/v1/devices/${deviceId}`)).body.device;
    expect(device).toMatchObject({ revoked: true, online: false });
    const audit = (await consoleProc.api('/api/v1/audit')).body.audit;
    expect(audit).toEqual(expect.arrayContaining([expect.objectContaining({ action: 'device.uninstalled', actor: `device:${deviceId}`, target: deviceId })]));
    // The revoked identity is gone, so a reinstall enrolls afresh.
    expect(existsSync(R('var/lib/vigil/device-key.pem'))).toBe(false);

    rmSync(R('opt/Vigil'), { recursive: true }); // dpkg removes the package's files between prerm and postrm
    await maintainerScript('postrm', 'remove');
    for (const gone of [
      'usr/lib/systemd/system/vigil-agent.service',
      'etc/xdg/autostart/vigil-tray.desktop',
      'usr/bin/vigil',
      'usr/bin/vigil-tray',
      'run/vigil',
    ]) {
      expect(existsSync(R(gone)), gone).toBe(false);
    }
    expect(existsSync(R('etc/vigil/enroll.json'))).toBe(true); // configuration stays until purge
  });

  it('purge: nothing is left in the scratch root', async () => {
    await maintainerScript('postrm', 'purge');
    expect(listTree(root.path).filter((p) => !p.startsWith('console-data-outside-the-package'))).toEqual(skeleton);
  });

  it('rpm erase ($1 = 0) removes the configuration and state as well, since rpm has no purge', async () => {
    const erased = tempDir('vigil-rpm-root-');
    try {
      const at = (...parts: string[]) => join(erased.path, ...parts);
      for (const dir of ['etc/default', 'etc/xdg/autostart', 'usr/bin', 'usr/lib/systemd/system', 'var/lib', 'var/log', 'run'])
        mkdirSync(at(dir), { recursive: true });
      const bare = listTree(erased.path);
      for (const [file, content] of Object.entries({
        'etc/vigil/enroll.json': '{}',
        'etc/default/vigil-agent': 'VIGIL_AGENT_ARGS=""',
        'var/lib/vigil/outbox.db': '',
        'var/log/vigil/agent.log': '',
        'run/vigil/agent.pid': '1',
        'usr/lib/systemd/system/vigil-agent.service': '',
        'etc/xdg/autostart/vigil-tray.desktop': '',
        'usr/bin/vigil': '',
      })) {
        mkdirSync(join(at(file), '..'), { recursive: true });
        writeFileSync(at(file), content);
      }
      await maintainerScript('postrm', '0', erased.path);
      expect(listTree(erased.path)).toEqual(bare);
    } finally {
      erased.remove();
    }
  });
});
