import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmdirSync, openSync, closeSync, renameSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { skipReason } from '../helpers/requirements.js';
import { cleanupDrives, makeExt4Drive, sh } from '../helpers/loop-fs.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { execGateUnavailable, execProgram, killAllGates, mountPrivateTmpfs, sha256File, startGate, type PrivateMount } from '../../bench/exec-fixture.js';

/**
 * The Linux pre-exec gate against real fanotify, as root. Only a private tmpfs mounted by this
 * file is ever marked; each gate runs as its own `vigil exec-gate` process and is killed after
 * each test; the tmpfs is unmounted in afterAll.
 */
const unavailable = skipReason('exec-gate e2e', execGateUnavailable());

describe.skipIf(unavailable !== null)('Linux exec gate (real fanotify)', () => {
  let mount: PrivateMount;
  let dir: string;
  let rulesFile: string;
  const TRUE_SHA = sha256File('/usr/bin/true');
  const writeRules = (mode: 'monitor' | 'enforce', allowSha256: string[] = []) =>
    writeFileSync(rulesFile, JSON.stringify({ format: 'vigil-exec-rules/1', mode, defaultAction: 'deny', allowSha256 }));
  const place = (name: string, from = '/usr/bin/true') => {
    const path = join(dir, name);
    copyFileSync(from, path);
    chmodSync(path, 0o755);
    return path;
  };

  beforeAll(() => {
    mount = mountPrivateTmpfs();
    dir = mount.path;
    rulesFile = join(dir, 'rules.json');
  });
  afterEach(async () => {
    await killAllGates();
  });
  afterAll(async () => {
    await killAllGates();
    cleanupDrives(); // mounted inside the tmpfs: unmounted first
    mount?.unmount();
  });

  it('enforce: blocks an unknown binary with EPERM, allows it by hash, keeps blocking renamed copies and one-byte changes', async () => {
    writeRules('enforce');
    const gate = await startGate(['--mark', dir, '--rules', rulesFile, '--deadline-ms', '2000']);
    const tool = place('tool');

    const blocked = execProgram(tool);
    expect(blocked.error).toBe('EPERM');
    const record = await gate.waitFor('exec', (r) => r.path === tool);
    expect(record).toMatchObject({ verdict: 'deny', reason: 'default', sha256: TRUE_SHA, answered: true, cached: false });
    expect(execProgram('/usr/bin/true').code).toBe(0); // nothing outside the marked mount is touched

    // A renamed copy (new inode, same content) and a moved file (same inode, new ctime).
    expect(execProgram(place('renamed-copy')).error).toBe('EPERM');
    renameSync(tool, join(dir, 'moved'));
    expect(execProgram(join(dir, 'moved')).error).toBe('EPERM');

    writeRules('enforce', [TRUE_SHA]);
    gate.child.kill('SIGHUP');
    await gate.waitFor('rules', (r) => r.allowCount === 1);
    const allowed = place('allowed');
    expect(execProgram(allowed)).toMatchObject({ code: 0, error: null });
    expect(await gate.waitFor('exec', (r) => r.path === allowed)).toMatchObject({ verdict: 'allow', reason: 'hash-allow' });
    expect(execProgram(join(dir, 'moved')).code).toBe(0); // same content, now allowed

    // The same allowed file changed by one byte in place (same size): its identity changes, the
    // cached hash is not reused, and the new content is not on the allowlist.
    const before = gate.records.length;
    const fd = openSync(allowed, 'r+');
    writeSync(fd, Buffer.from([0x41]), 0, 1, 200);
    closeSync(fd);
    expect(execProgram(allowed).error).toBe('EPERM');
    const modified = await gate.waitFor('exec', (r) => r.path === allowed && gate.records.indexOf(r) >= before);
    expect(modified.verdict).toBe('deny');
    expect(modified.cached).toBe(false);
    expect(modified.sha256).not.toBe(TRUE_SHA);

    // A file changed moments ago is hashed on every run: a same-tick rewrite could keep its ctime.
    gate.child.kill('SIGUSR1');
    expect((await gate.waitFor('stats')).stats).toMatchObject({ cacheAllowed: 0, ignoreMarks: 0 });
    // Once its ctime is old enough to prove its content, an allowed identity is answered
    // natively, without a JS round trip...
    const movedAt = statSync(join(dir, 'moved')).ctimeMs;
    await new Promise((r) => setTimeout(r, Math.max(0, movedAt + 2600 - Date.now())));
    const beforeFirst = gate.records.length;
    expect(execProgram(join(dir, 'moved')).code).toBe(0);
    await gate.waitFor('exec', (r) => r.path === join(dir, 'moved') && gate.records.indexOf(r) >= beforeFirst);
    const afterFirst = gate.records.length;
    expect(execProgram(join(dir, 'moved')).code).toBe(0);
    expect(execProgram(join(dir, 'moved')).code).toBe(0);
    const statsFrom = gate.records.length;
    gate.child.kill('SIGUSR1');
    // ...by the kernel itself (an ignore mark on the allowed file) or the native cache: either
    // way JavaScript printed no decision for the later runs.
    const { stats } = await gate.waitFor('stats', () => true, 10_000, statsFrom);
    expect(stats.ignoreMarks + stats.cacheAllowed).toBeGreaterThan(0);
    expect(gate.records.slice(afterFirst).filter((r) => r.type === 'exec' && r.path === join(dir, 'moved'))).toEqual([]);
    // ...until the policy changes: then the same file is decided afresh.
    writeRules('enforce');
    // Only a rules record printed after this reload counts (start-up printed one with no allows too).
    const reloadedFrom = gate.records.length;
    gate.child.kill('SIGHUP');
    await gate.waitFor('rules', (r) => r.allowCount === 0 && gate.records.indexOf(r) >= reloadedFrom);
    expect(execProgram(join(dir, 'moved')).error).toBe('EPERM');
  });

  it('monitor: the program runs and the gate reports that it would have been blocked', async () => {
    writeRules('monitor');
    const gate = await startGate(['--mark', dir, '--rules', rulesFile]);
    const tool = place('monitored');
    expect(execProgram(tool)).toMatchObject({ code: 0, error: null });
    expect(await gate.waitFor('exec', (r) => r.path === tool)).toMatchObject({ verdict: 'deny', mode: 'monitor', wouldBlock: true, answered: true });
  });

  it('stalled decisions: the native deadline answers with the fail-closed default', async () => {
    writeRules('enforce', [TRUE_SHA]);
    const gate = await startGate(['--mark', dir, '--rules', rulesFile, '--deadline-ms', '150', '--on-timeout', 'deny'], { VIGIL_EXEC_GATE_STALL_MS: '3000' });
    const tool = place('stalled-closed');
    const result = execProgram(tool);
    expect(result.error).toBe('EPERM'); // even though the hash is allowed: no decision in time
    expect(result.ms).toBeLessThan(2500); // answered by the deadline, not when JS woke up
    expect(await gate.waitFor('timeout', (r) => r.applied === 'deny')).toBeTruthy();
  });

  it('stalled decisions: the native deadline answers with the fail-open default', async () => {
    writeRules('enforce');
    const gate = await startGate(['--mark', dir, '--rules', rulesFile, '--deadline-ms', '150', '--on-timeout', 'allow'], { VIGIL_EXEC_GATE_STALL_MS: '3000' });
    const tool = place('stalled-open');
    const result = execProgram(tool);
    expect(result).toMatchObject({ code: 0, error: null }); // even though the policy would deny
    expect(result.ms).toBeLessThan(2500);
    expect(await gate.waitFor('timeout', (r) => r.applied === 'allow')).toBeTruthy();
    // When JS catches up, its late answer is recorded as not having reached the kernel.
    expect(await gate.waitFor('exec', (r) => r.path === tool, 10_000)).toMatchObject({ verdict: 'deny', answered: false });
  });

  it('built-in always-allow paths are answered natively, even while decisions are stalled and fail-closed', async () => {
    writeRules('enforce');
    const trusted = join(dir, 'trusted');
    mkdirSync(trusted, { recursive: true });
    const gate = await startGate(['--mark', dir, '--rules', rulesFile, '--deadline-ms', '2000', '--on-timeout', 'deny', '--always-allow', trusted], {
      VIGIL_EXEC_GATE_STALL_MS: '5000',
    });
    const tool = place('trusted/tool');
    const result = execProgram(tool);
    expect(result).toMatchObject({ code: 0, error: null });
    expect(result.ms).toBeLessThan(1500); // not held until the 2 s deadline
    gate.child.kill('SIGUSR1');
    const stats = await gate.waitFor('stats');
    expect(stats.stats.prefixAllowed).toBe(1);
  });

  it('a private bind mount over an always-allowed directory does not make a program built in', async () => {
    writeRules('enforce');
    const trusted = join(dir, 'trusted-ns');
    const elsewhere = join(dir, 'elsewhere');
    mkdirSync(trusted, { recursive: true });
    mkdirSync(elsewhere, { recursive: true });
    place('elsewhere/tool');
    // Filesystem marks follow the tmpfs into the new mount namespace; mount marks would not.
    const gate = await startGate(['--mark', dir, '--mark-kind', 'filesystem', '--rules', rulesFile, '--deadline-ms', '2000', '--always-allow', trusted]);
    // In its own mount namespace, "tool" appears inside the always-allowed directory.
    const inside = spawnSync('unshare', ['-m', 'sh', '-c', `mount --bind '${elsewhere}' '${trusted}' && exec '${join(trusted, 'tool')}'`], {
      encoding: 'utf8',
    });
    expect(inside.status).not.toBe(0);
    expect(inside.stderr).toMatch(/Operation not permitted|Permission denied/);
    const record = await gate.waitFor('exec', (r) => r.path === join(trusted, 'tool'));
    expect(record).toMatchObject({ verdict: 'deny', reason: 'default' });
    gate.child.kill('SIGUSR1');
    expect((await gate.waitFor('stats')).stats.prefixAllowed).toBe(0);
  });

  it('a killed gate releases waiting executions and its marks: nothing hangs', async () => {
    writeRules('enforce');
    // Decisions stall for 20 s with a 20 s deadline, so only the kernel can release the exec.
    const gate = await startGate(['--mark', dir, '--rules', rulesFile, '--deadline-ms', '20000', '--on-timeout', 'deny'], {
      VIGIL_EXEC_GATE_STALL_MS: '20000',
    });
    const tool = place('orphaned');
    const started = performance.now();
    // Through a shell: libuv's spawn waits for the exec itself, which would block this process.
    let settled = false;
    const waiting = new Promise<number | null>((resolve) => {
      const child = spawn('/bin/sh', ['-c', `exec "${tool}"`], { stdio: 'ignore' });
      child.once('exit', (code) => ((settled = true), resolve(code)));
    });
    // Give the exec time to reach the gate and block there.
    await new Promise((r) => setTimeout(r, 500));
    expect(settled).toBe(false);
    await gate.kill('SIGKILL');
    const outcome = await waiting;
    expect(performance.now() - started).toBeLessThan(5000);
    expect(outcome).toBe(0); // the kernel allows what was pending (a denied exec exits 126)
    expect(execProgram(tool)).toMatchObject({ code: 0, error: null }); // and the marks are gone
  });

  it('file systems mounted below a mark after the gate started are covered; a remount is a new identity', async () => {
    writeRules('enforce');
    const gate = await startGate(['--mark', dir, '--rules', rulesFile, '--deadline-ms', '2000']);
    // A loop-mounted ext4 "USB stick" and a tmpfs, both mounted after the gate started.
    const stick = join(dir, 'stick');
    const ram = join(dir, 'ram');
    mkdirSync(stick);
    mkdirSync(ram);
    const drive = makeExt4Drive(16, 'STICK', stick);
    sh('mount', ['-t', 'tmpfs', '-o', 'exec,size=8m', 'vigil-exec-test-later', ram]);
    try {
      expect(await gate.waitFor('mark', (r) => r.path === stick)).toMatchObject({ fsType: 'ext4', kind: 'filesystem' });
      await gate.waitFor('mark', (r) => r.path === ram);
      for (const where of [stick, ram]) {
        const tool = join(where, 'tool');
        copyFileSync('/usr/bin/true', tool);
        chmodSync(tool, 0o755);
        expect(execProgram(tool).error).toBe('EPERM');
        expect(await gate.waitFor('exec', (r) => r.path === tool)).toMatchObject({ verdict: 'deny', answered: true });
      }

      // Allowed by hash and old enough to be cached (see the racy-ctime rule): the first run is
      // decided in JS, later runs natively from the cache.
      const tool = join(stick, 'tool');
      writeRules('enforce', [TRUE_SHA]);
      gate.child.kill('SIGHUP');
      await gate.waitFor('rules', (r) => r.allowCount === 1, 10_000, gate.records.length);
      await new Promise((r) => setTimeout(r, 2600));
      expect(execProgram(tool).code).toBe(0);
      expect(await gate.waitFor('exec', (r) => r.path === tool && r.verdict === 'allow')).toMatchObject({ cached: false });
      const before = gate.records.length;
      expect(execProgram(tool).code).toBe(0);
      await new Promise((r) => setTimeout(r, 300));
      expect(gate.records.slice(before).filter((r) => r.type === 'exec' && r.path === tool)).toEqual([]); // natively cached

      // The same image mounted again: dev, inode, size and ctime are all unchanged, but the mount
      // has a new unique id, so neither cache vouches for it and the file is read again.
      const marksBefore = gate.records.length;
      sh('umount', [stick]);
      sh('mount', [drive.device, stick]);
      await gate.waitFor('mark', (r) => r.path === stick, 10_000, marksBefore);
      const remounted = gate.records.length;
      expect(execProgram(tool).code).toBe(0);
      expect(await gate.waitFor('exec', (r) => r.path === tool, 10_000, remounted)).toMatchObject({ verdict: 'allow', cached: false });
    } finally {
      sh('umount', [ram]);
      cleanupDrives();
    }
  });

  it('scripts: ./script is checked (the kernel execs it), `sh script` only checks the interpreter', async () => {
    writeRules('enforce');
    const gate = await startGate(['--mark', dir, '--rules', rulesFile, '--deadline-ms', '2000']);
    const script = join(dir, 'script.sh');
    writeFileSync(script, '#!/bin/sh\nexit 0\n');
    chmodSync(script, 0o755);
    expect(execProgram(script).error).toBe('EPERM');
    expect(await gate.waitFor('exec', (r) => r.path === script)).toMatchObject({ verdict: 'deny' });
    // The interpreter (/usr/bin/dash, built in) is what is executed; the script is only read.
    expect(spawnSync('/bin/sh', [script]).status).toBe(0);
  });

  it('a bind mount in a new mount namespace is still covered (the mark is on the file system)', async () => {
    writeRules('enforce');
    await startGate(['--mark', dir, '--rules', rulesFile, '--deadline-ms', '2000']);
    place('ns-tool');
    const elsewhere = mkdtempSync(join(tmpdir(), 'vigil-ns-'));
    try {
      const run = spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', `mount --bind "$0" "$1" && "$1/ns-tool"`, dir, elsewhere], {
        encoding: 'utf8',
      });
      expect(run.status).not.toBe(0);
      expect(run.stderr).toMatch(/Operation not permitted/);
    } finally {
      rmdirSync(elsewhere);
    }
  });
});
