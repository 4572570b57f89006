import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, chmodSync, copyFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { killAllGates, mountPrivateTmpfs, onlyBelow, REPO_ROOT, sha256File, startWatcher, type PrivateMount } from '../../bench/exec-fixture.js';
import { skipReason } from '../helpers/requirements.js';

/**
 * The fallback watcher against real processes: `vigil exec-watch` (as root, in both of its Linux
 * modes) watches programs started by an unprivileged user (`nobody`, uid 65534) from a private
 * tmpfs this file mounts, kills the unapproved one and reports how long it lived, and leaves the
 * approved one — and root's processes — running. Every process started here is killed by pid
 * in afterEach; the tmpfs is unmounted in afterAll.
 */
const NOBODY = 65534;
function unavailable(): string | null {
  if (process.platform !== 'linux') return 'the Linux watcher needs Linux';
  if (process.getuid?.() !== 0) return 'needs root (to start programs as nobody and mount a tmpfs)';
  if (!existsSync(join(REPO_ROOT, 'native/procwatch/build/Release/vigil_procwatch.node'))) return 'native/procwatch is not built (node scripts/prepare.mjs)';
  if (!existsSync('/usr/bin/python3')) return 'python3 is missing (it starts a program from a memfd)';
  return null;
}
const skip = skipReason('exec-watch e2e', unavailable());

describe.skipIf(skip !== null)('fallback exec watcher (real processes)', () => {
  let mount: PrivateMount;
  let approved: string;
  let unapproved: string;
  let rules: string;
  const started: ChildProcess[] = [];

  const run = (path: string, asNobody = true) => {
    // Started directly as nobody (no runuser wrapper), so the pid we hold is the program itself.
    const child = spawn(path, ['30'], { stdio: 'ignore', ...(asNobody ? { uid: NOBODY, gid: NOBODY } : {}) });
    started.push(child);
    const exit = new Promise<NodeJS.Signals | number | null>((r) => child.once('exit', (code, signal) => r(signal ?? code)));
    return { child, exit };
  };
  const stillRunning = (child: ChildProcess) => child.exitCode === null && child.signalCode === null;

  beforeAll(() => {
    mount = mountPrivateTmpfs(32);
    chmodSync(mount.path, 0o755);
    approved = join(mount.path, 'approved-sleep');
    copyFileSync('/usr/bin/sleep', approved);
    // The same program plus bytes at the end: still runs, but its hash is not on the allowlist.
    unapproved = join(mount.path, 'unapproved-sleep');
    copyFileSync('/usr/bin/sleep', unapproved);
    appendFileSync(unapproved, Buffer.alloc(64, 7));
    chmodSync(approved, 0o755);
    chmodSync(unapproved, 0o755);
    rules = join(mount.path, 'rules.json');
    writeFileSync(
      rules,
      JSON.stringify({
        format: 'vigil-exec-rules/1',
        mode: 'enforce',
        defaultAction: 'deny',
        allowSha256: [sha256File(approved)],
        rules: onlyBelow(mount.path),
      }),
    );
  });
  afterEach(async () => {
    for (const child of started.splice(0)) if (stillRunning(child)) child.kill('SIGKILL');
    await killAllGates();
  });
  afterAll(async () => {
    await killAllGates();
    mount?.unmount();
  });

  for (const mode of ['proc-connector', 'proc-poll'] as const) {
    it(`${mode}: an unapproved program started by nobody is killed and the record says how long it lived; an approved one keeps running`, async () => {
      const watcher = await startWatcher(['--rules', rules, ...(mode === 'proc-poll' ? ['--watcher', 'proc-poll'] : [])]);
      expect(watcher.records[0]).toMatchObject({ type: 'ready', watcher: mode, mode: 'enforce' });

      const good = run(approved);
      const bad = run(unapproved);
      expect(await bad.exit).toBe('SIGKILL');
      const record = await watcher.waitFor('exec', (r) => r.pid === bad.child.pid);
      expect(record).toMatchObject({
        watcher: mode,
        path: unapproved,
        sha256: sha256File(unapproved),
        verdict: 'deny',
        reason: 'path-block',
        action: 'killed',
        user: 'nobody',
        signer: 'unknown',
      });
      expect(record.livedMs).toBeGreaterThan(0);
      expect(record.livedMs).toBeLessThan(30_000); // it did not end by itself

      // The approved program is judged (hash allow: no record) and left alone.
      await new Promise((r) => setTimeout(r, 1500));
      expect(stillRunning(good.child)).toBe(true);
      expect(watcher.records.some((r) => r.type === 'exec' && r.pid === good.child.pid)).toBe(false);
    });
  }

  it('never kills a root process, and monitor mode only reports', async () => {
    const watcher = await startWatcher(['--rules', rules, '--mode', 'monitor']);
    const asRoot = run(unapproved, false);
    const asNobody = run(unapproved);
    const record = await watcher.waitFor('exec', (r) => r.pid === asNobody.child.pid);
    expect(record).toMatchObject({ verdict: 'deny', mode: 'monitor', wouldBlock: true, action: 'none', livedMs: null });
    await new Promise((r) => setTimeout(r, 1000));
    expect(stillRunning(asNobody.child)).toBe(true);
    expect(stillRunning(asRoot.child)).toBe(true);
    expect(watcher.records.some((r) => r.type === 'exec' && r.pid === asRoot.child.pid)).toBe(false);

    // Enforce mode: nobody's copy is killed, root's never.
    await watcher.kill();
    const enforcing = await startWatcher(['--rules', rules]);
    expect(await asNobody.exit).toBe('SIGKILL'); // found by the start-up sweep
    await new Promise((r) => setTimeout(r, 500));
    expect(stillRunning(asRoot.child)).toBe(true);
    expect(enforcing.records.some((r) => r.type === 'exec' && r.pid === asRoot.child.pid)).toBe(false);
  });

  it('as nobody itself (no root): proc-poll kills its own unapproved program', async () => {
    const watcher = await startWatcher(['--rules', rules, '--watcher', 'proc-poll'], {}, { uid: NOBODY, gid: NOBODY });
    const bad = run(unapproved);
    expect(await bad.exit).toBe('SIGKILL');
    expect(await watcher.waitFor('exec', (r) => r.pid === bad.child.pid)).toMatchObject({ action: 'killed', user: 'nobody' });
  });

  it('a program started from a memfd (fexecve), which no fanotify mark can cover, is killed too', async () => {
    // Confined to memfds of this test's name (the watcher sees the whole machine).
    const memfdRules = join(mount.path, 'memfd-rules.json');
    writeFileSync(
      memfdRules,
      JSON.stringify({
        format: 'vigil-exec-rules/1',
        mode: 'enforce',
        defaultAction: 'allow',
        rules: [{ kind: 'path', pattern: '/memfd:vigil-exec-watch-test**', action: 'block' }],
      }),
    );
    const watcher = await startWatcher(['--rules', memfdRules]);
    const script =
      "import os; fd = os.memfd_create('vigil-exec-watch-test', 0); os.write(fd, open('/usr/bin/sleep', 'rb').read()); os.execve(fd, ['sleep', '30'], {})";
    const child = spawn('/usr/bin/python3', ['-c', script], { stdio: 'ignore', uid: NOBODY, gid: NOBODY });
    started.push(child);
    const exit = await new Promise((r) => child.once('exit', (code, signal) => r(signal ?? code)));
    expect(exit).toBe('SIGKILL');
    expect(await watcher.waitFor('exec', (r) => r.pid === child.pid)).toMatchObject({
      path: expect.stringMatching(/^\/memfd:vigil-exec-watch-test/),
      reason: 'path-block',
      action: 'killed',
      user: 'nobody',
    });
  });
});
