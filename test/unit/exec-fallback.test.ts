import { describe, expect, it } from 'vitest';
import { builtinAllows, ruleSetDecider } from '../../src/agent/exec/decision.js';
import { FallbackWatcher, whyNotActOn, type ObservedProcess, type ProcessWatchBackend } from '../../src/agent/exec/fallback.js';
import { ruleSetFromRules } from '../../src/agent/exec/rule-set.js';
import { needsMark } from '../../src/agent/platform/linux/exec-gate.js';
import { parseStartTicks } from '../../src/agent/platform/linux/exec-watch.js';
import { parseMountInfoLine } from '../../src/agent/platform/linux/mountinfo.js';
import { ExecRulesSchema, ExecWatchRecordSchema, type ExecWatchRecord } from '../../src/shared/exec.js';

const GOOD = 'a'.repeat(64);
const BAD = 'b'.repeat(64);
const proc = (over: Partial<ObservedProcess> & { sha?: string } = {}): ObservedProcess & { sha: string } => ({
  pid: 4242,
  uid: 1001,
  user: 'pupil1',
  start: '12345',
  path: '/home/pupil1/Downloads/game',
  dev: 40n,
  ino: 7n,
  size: 1000,
  ctimeSec: 1_700_000_000,
  ctimeNsec: 0,
  sha: BAD,
  ...over,
});

/** A backend driven by the test: it reports what it is given and records what it was asked to do. */
function fakeBackend() {
  let report: (p: ObservedProcess & { sha: string }) => void = () => {};
  const terminated: number[] = [];
  const backend: ProcessWatchBackend<ObservedProcess & { sha: string }> = {
    kind: 'proc-poll',
    async start(onProcess) {
      report = onProcess;
    },
    stop() {},
    async hash(p) {
      return p.sha;
    },
    async terminate(p) {
      terminated.push(p.pid);
      return { outcome: 'killed', livedMs: 12.5 };
    },
  };
  return { backend, terminated, report: (p: ObservedProcess & { sha: string }) => report(p) };
}

function watcher(mode: 'monitor' | 'enforce', self = { pid: 1, uid: 0 }) {
  const fake = fakeBackend();
  const records: ExecWatchRecord[] = [];
  const rules = ruleSetFromRules(ExecRulesSchema.parse({ format: 'vigil-exec-rules/1', mode, defaultAction: 'deny', allowSha256: [GOOD] }));
  const w = new FallbackWatcher({
    backend: fake.backend,
    builtins: [{ path: '/usr', dev: 40n }],
    decide: ruleSetDecider(rules),
    mode,
    whyNot: (p) => whyNotActOn(p, self),
    onRecord: (r) => records.push(ExecWatchRecordSchema.parse(r)),
  });
  return { w, records, ...fake };
}
const settle = () => new Promise((r) => setTimeout(r, 10));

describe('fallback watcher core', () => {
  it('kills an unapproved program and records how long it lived; leaves approved and built-in ones', async () => {
    const { w, records, terminated, report } = watcher('enforce');
    await w.start();
    report(proc());
    report(proc({ pid: 5000, ino: 8n, sha: GOOD }));
    report(proc({ pid: 5001, path: '/usr/bin/bash' }));
    await settle();
    expect(terminated).toEqual([4242]);
    expect(records).toEqual([
      expect.objectContaining({
        type: 'exec',
        pid: 4242,
        action: 'killed',
        livedMs: 12.5,
        verdict: 'deny',
        reason: 'default',
        user: 'pupil1',
        signer: 'unknown',
        watcher: 'proc-poll',
      }),
    ]);
  });

  it('monitor mode reports and kills nothing; a new policy applies at once', async () => {
    const { w, records, terminated, report } = watcher('monitor');
    await w.start();
    report(proc());
    await settle();
    expect(terminated).toEqual([]);
    expect(records[0]).toMatchObject({ wouldBlock: true, action: 'none', livedMs: null });
    w.setPolicy({ decide: () => ({ action: 'deny', reason: 'default' }), mode: 'enforce' });
    report(proc({ pid: 4243 }));
    await settle();
    expect(terminated).toEqual([4243]);
  });

  it('never touches itself, init, root or system accounts, nor other users when not root', async () => {
    const { w, terminated, report } = watcher('enforce', { pid: 777, uid: 0 });
    await w.start();
    for (const p of [proc({ pid: 777 }), proc({ pid: 1 }), proc({ pid: 10, uid: 0 }), proc({ pid: 11, uid: 110 })]) report(p);
    await settle();
    expect(terminated).toEqual([]);
    expect(w.stats()).toMatchObject({ seen: 4, spared: 4, killed: 0 });
    expect(whyNotActOn({ pid: 50, uid: 1002 }, { pid: 9, uid: 1001 })).toMatch(/another user/);
    expect(whyNotActOn({ pid: 50, uid: 1001 }, { pid: 9, uid: 1001 })).toBeNull();
    expect(whyNotActOn({ pid: 50, uid: 65534 }, { pid: 9, uid: 0 })).toBeNull();
    // Windows reports no uid: the OS's own access checks decide.
    expect(whyNotActOn({ pid: 50, uid: null }, { pid: 9, uid: null })).toBeNull();
  });

  it('built-in Windows directories match in any case and with either separator, on their volume only', () => {
    const builtins = [{ path: 'C:\\Windows', dev: 5n }];
    expect(builtinAllows(builtins, 'C:\\WINDOWS\\system32\\svchost.exe', 5n)).toBe(true);
    expect(builtinAllows(builtins, 'c:/windows/explorer.exe', 5n)).toBe(true);
    expect(builtinAllows(builtins, 'C:\\Windows2\\x.exe', 5n)).toBe(false);
    expect(builtinAllows(builtins, 'C:\\Windows\\x.exe', 6n)).toBe(false);
  });

  it('reads the start time from /proc/PID/stat even when the command name holds spaces and parentheses', () => {
    const fields = Array.from({ length: 50 }, (_, i) => String(i + 3)); // fields 3.. as their numbers
    fields[22 - 3] = '987654';
    expect(parseStartTicks(`4242 (evil) (name x) ${fields.join(' ')}`)).toBe(987654n);
    expect(parseStartTicks('garbage')).toBeNull();
  });

  it('marks new mounts that can hold programs: not noexec ones, not kernel pseudo file systems', () => {
    const entry = (fsType: string, options = 'rw,relatime') => parseMountInfoLine(`99 1 7:3 / /media/stick ${options} shared:1 - ${fsType} /dev/loop3 rw`)!;
    expect(needsMark(entry('ext4'))).toBe(true);
    expect(needsMark(entry('fuseblk'))).toBe(true);
    expect(needsMark(entry('ext4', 'rw,nosuid,nodev,noexec'))).toBe(false);
    expect(needsMark(entry('proc'))).toBe(false);
  });
});
