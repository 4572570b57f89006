import { describe, expect, it } from 'vitest';
import { builtinAllows, ruleSetDecider, type ExecFileInfo, type ExecRuleSet } from '../../src/agent/exec/decision.js';
import { ExecEvaluator, type PendingExec } from '../../src/agent/exec/evaluator.js';
import {
  compileApplications,
  compileRuleSet,
  DARWIN_BACKEND,
  deviceRules,
  globToRegExp,
  groupsOf,
  LINUX_BACKEND,
  ruleSetFromRules,
  WINDOWS_BACKEND,
  windowsPatternToRegExp,
  type BackendCapabilities,
} from '../../src/agent/exec/rule-set.js';
import { AppRuleSchema, ApplicationsSchema, type AppRule, type SignerInfo } from '../../src/shared/app-rules.js';
import { ExecRulesSchema } from '../../src/shared/exec.js';

/**
 * Application control's decision at its edges. Each case was a mutation that let a program run
 * (or a rule apply on the wrong device) without a test noticing (issue 19, docs/mutation.md).
 */
const HASH_A = 'a'.repeat(64);
const HASH_B = 'b'.repeat(64);
const NOW = Date.parse('2026-01-10T12:00:00Z');
const DEVICE = '3f1c2a9e-8a55-4a8e-9b1e-0d6f3a1c2b7d';
const NO_SIGNER: SignerInfo = { publisher: null, product: null, binaryName: null, teamId: null, signingId: null };
const CONTOSO: SignerInfo = { ...NO_SIGNER, publisher: 'O=CONTOSO', product: 'EDITOR', binaryName: 'EDIT.EXE' };

const fileInfo = (over: Partial<ExecFileInfo> = {}): ExecFileInfo => ({
  path: '/home/pupil/tool',
  pid: 1,
  dev: 1n,
  ino: 1n,
  size: 1,
  ctimeSec: 0,
  ctimeNsec: 0,
  sha256: HASH_B,
  ...over,
});
const rule = (r: unknown): AppRule => AppRuleSchema.parse(r);

function decide(
  rules: unknown[],
  opts: { backend?: BackendCapabilities; exceptions?: unknown[]; groups?: string[]; defaultAction?: 'allow' | 'block'; now?: number } = {},
) {
  const apps = ApplicationsSchema.parse({ mode: 'enforce', defaultAction: opts.defaultAction ?? 'block', rules, exceptions: opts.exceptions ?? [] });
  const now = opts.now ?? NOW;
  const { ruleSet, report } = compileApplications(apps, new Set(opts.groups ?? []), opts.backend ?? WINDOWS_BACKEND, now);
  return { decide: ruleSetDecider(ruleSet, () => now), report, ruleSet };
}

describe('signer rules', () => {
  it('match only when every field the rule names is the signer’s, never any signed binary', () => {
    const { decide: d } = decide([{ kind: 'signer', publisher: 'O=CONTOSO', product: 'EDITOR', action: 'allow', id: 'contoso-editor' }]);
    expect(d(fileInfo({ signer: CONTOSO }))).toEqual({ action: 'allow', reason: 'signer-allow', ruleId: 'contoso-editor' });
    for (const other of [
      { ...CONTOSO, publisher: 'O=FABRIKAM' },
      { ...CONTOSO, product: 'GAME' },
      { ...CONTOSO, product: null }, // unknown is not a match
      NO_SIGNER,
    ]) {
      expect(d(fileInfo({ signer: other })), JSON.stringify(other)).toEqual({ action: 'deny', reason: 'default' });
    }
    expect(d(fileInfo({ signer: null }))).toEqual({ action: 'deny', reason: 'default' });
    expect(d(fileInfo())).toEqual({ action: 'deny', reason: 'default' });
  });

  it('macOS: team id and signing id', () => {
    const { decide: d } = decide([{ kind: 'signer', teamId: 'EQHXZ8M8AV', signingId: 'com.google.Chrome', action: 'allow' }], { backend: DARWIN_BACKEND });
    const chrome = { ...NO_SIGNER, teamId: 'EQHXZ8M8AV', signingId: 'com.google.Chrome' };
    expect(d(fileInfo({ signer: chrome }))).toEqual({ action: 'allow', reason: 'signer-allow' });
    expect(d(fileInfo({ signer: { ...chrome, signingId: 'com.google.Other' } }))).toEqual({ action: 'deny', reason: 'default' });
    expect(d(fileInfo({ signer: { ...chrome, teamId: 'AAAAAAAAAA' } }))).toEqual({ action: 'deny', reason: 'default' });
  });

  it('macOS backend: signers and POSIX paths, no Authenticode', () => {
    const { ruleSet, report } = decide(
      [
        { kind: 'path', pattern: '/Applications/**', action: 'allow', id: 'apps' },
        { kind: 'authenticode-sha256', hash: HASH_A, action: 'allow', id: 'ac' },
      ],
      { backend: DARWIN_BACKEND },
    );
    expect(ruleSet.paths).toHaveLength(1);
    expect(report.skipped).toEqual([{ ruleId: 'ac', kind: 'authenticode-sha256', why: 'an Authenticode hash can only be evaluated by the Windows backend' }]);
  });

  it('expands Windows variables given to compileApplications', () => {
    const apps = ApplicationsSchema.parse({
      mode: 'enforce',
      defaultAction: 'block',
      rules: [{ kind: 'path', platform: 'windows', pattern: '%PROGRAMFILES%\\*', action: 'allow', id: 'pf' }],
    });
    const { ruleSet, report } = compileApplications(apps, new Set(), WINDOWS_BACKEND, NOW, { PROGRAMFILES: 'C:\\Program Files' });
    expect(report.skipped).toEqual([]);
    expect(ruleSetDecider(ruleSet, () => NOW)(fileInfo({ path: 'C:\\Program Files\\app.exe' }))).toEqual({
      action: 'allow',
      reason: 'path-allow',
      ruleId: 'pf',
    });
  });

  it('are skipped, and said so, where the platform reports no signer', () => {
    const { ruleSet, report } = decide([{ kind: 'signer', teamId: 'EQHXZ8M8AV', action: 'allow', id: 's1' }], { backend: LINUX_BACKEND });
    expect(ruleSet.signers).toEqual([]);
    expect(report).toEqual({
      ruleCount: 0,
      skipped: [{ ruleId: 's1', kind: 'signer', why: 'this platform reports no code signer, so signer rules cannot match' }],
      nextExpiry: null,
    });
  });
});

describe('tiers, exceptions and expiry', () => {
  it('takes hash over signer over path, with the reason and rule id of the deciding rule', () => {
    const rules = [
      { kind: 'path', platform: 'windows', pattern: 'C:\\Tools\\*', action: 'block', id: 'no-tools' },
      { kind: 'signer', publisher: 'O=CONTOSO', action: 'allow', id: 'contoso' },
      { kind: 'sha256', sha256: HASH_A, action: 'block', id: 'bad-build' },
    ];
    const { decide: d } = decide(rules, { defaultAction: 'allow' });
    const path = 'C:\\Tools\\edit.exe';
    expect(d(fileInfo({ path, sha256: HASH_A, signer: CONTOSO }))).toEqual({ action: 'deny', reason: 'hash-block', ruleId: 'bad-build' });
    expect(d(fileInfo({ path, signer: CONTOSO }))).toEqual({ action: 'allow', reason: 'signer-allow', ruleId: 'contoso' });
    expect(d(fileInfo({ path }))).toEqual({ action: 'deny', reason: 'path-block', ruleId: 'no-tools' });
    expect(d(fileInfo({ path: 'C:\\Other\\edit.exe' }))).toEqual({ action: 'allow', reason: 'default' });
  });

  it('lets a live exception beat a regular rule, a block beat an allow, and lapses the exception at its expiry', () => {
    const expiresAt = '2026-01-10T13:00:00.000Z';
    const exceptions = [{ rule: { kind: 'sha256', sha256: HASH_A, action: 'allow', id: 'exam-tool' }, reason: 'exam today', expiresAt }];
    const rules = [{ kind: 'sha256', sha256: HASH_A, action: 'block', id: 'blocked-tool' }];
    const { ruleSet } = decide(rules, { exceptions });
    const at = (t: number) => ruleSetDecider(ruleSet, () => t)(fileInfo({ sha256: HASH_A }));
    expect(at(Date.parse(expiresAt) - 1)).toEqual({ action: 'allow', reason: 'hash-allow', ruleId: 'exam-tool', exception: true });
    expect(at(Date.parse(expiresAt))).toEqual({ action: 'deny', reason: 'hash-block', ruleId: 'blocked-tool' });
    // Two regular rules on one hash: the block wins, whatever the order.
    const both = decide([
      { kind: 'sha256', sha256: HASH_A, action: 'allow', id: 'a' },
      { kind: 'sha256', sha256: HASH_A, action: 'block', id: 'b' },
    ]);
    expect(both.decide(fileInfo({ sha256: HASH_A }))).toEqual({ action: 'deny', reason: 'hash-block', ruleId: 'b' });
    // Two exceptions: likewise.
    const twoExceptions = decide([], {
      exceptions: [
        { rule: { kind: 'sha256', sha256: HASH_A, action: 'allow', id: 'x1' }, reason: 'one', expiresAt },
        { rule: { kind: 'sha256', sha256: HASH_A, action: 'block', id: 'x2' }, reason: 'two', expiresAt },
      ],
      defaultAction: 'allow',
    });
    expect(twoExceptions.decide(fileInfo({ sha256: HASH_A }))).toEqual({ action: 'deny', reason: 'hash-block', ruleId: 'x2', exception: true });
  });

  it('does not compile an exception that has expired, and reports the earliest expiry still to come', () => {
    const mk = (id: string, expiresAt: string) => ({ rule: { kind: 'sha256', sha256: HASH_A, action: 'allow', id }, reason: 'lesson', expiresAt });
    const { decide: d, report } = decide([], {
      exceptions: [
        mk('past', '2026-01-10T11:59:59.999Z'),
        mk('now', '2026-01-10T12:00:00.000Z'),
        mk('later', '2026-01-10T15:00:00.000Z'),
        mk('soon', '2026-01-10T12:30:00.000Z'),
        mk('latest', '2026-01-11T00:00:00.000Z'),
      ],
    });
    expect(report.skipped).toEqual([
      { ruleId: 'past', kind: 'sha256', why: 'exception expired' },
      { ruleId: 'now', kind: 'sha256', why: 'exception expired' },
    ]);
    expect(report.ruleCount).toBe(3);
    expect(report.nextExpiry).toBe(Date.parse('2026-01-10T12:30:00.000Z'));
    expect(d(fileInfo({ sha256: HASH_A }))).toMatchObject({ action: 'allow', exception: true });
    // Regular rules never set an expiry.
    expect(decide([{ kind: 'sha256', sha256: HASH_A, action: 'allow' }]).report).toEqual({ ruleCount: 1, skipped: [], nextExpiry: null });
  });

  it('exports only live exceptions for backends that take a plain rule list, scoped to the device', () => {
    const apps = ApplicationsSchema.parse({
      rules: [
        { kind: 'sha256', sha256: HASH_B, action: 'block', groups: ['year9'] },
        { kind: 'sha256', sha256: HASH_A, action: 'allow' },
      ],
      exceptions: [
        { rule: { kind: 'sha256', sha256: HASH_A, action: 'allow', id: 'gone' }, reason: 'over', expiresAt: '2026-01-10T12:00:00.000Z' },
        {
          rule: { kind: 'sha256', sha256: HASH_B, action: 'allow', id: 'live', groups: ['year9', 'staff'] },
          reason: 'open',
          expiresAt: '2026-01-10T12:00:00.001Z',
        },
      ],
    });
    expect(deviceRules(apps, new Set(['staff']), NOW)).toEqual([
      { kind: 'sha256', sha256: HASH_A, action: 'allow' },
      { kind: 'sha256', sha256: HASH_B, action: 'allow', id: 'live' },
    ]);
    expect(deviceRules(apps, new Set(['year9']), NOW).map((r) => r.action)).toEqual(['block', 'allow', 'allow']);
    expect(deviceRules(apps, new Set(), NOW)).toEqual([{ kind: 'sha256', sha256: HASH_A, action: 'allow' }]);
    // Without a time, the clock: both exceptions are long over.
    expect(deviceRules(apps, new Set(['staff']))).toEqual([{ kind: 'sha256', sha256: HASH_A, action: 'allow' }]);
  });
});

describe('group scoping', () => {
  const groups = { year9: [DEVICE], staff: ['00000000-0000-4000-8000-000000000001'] };

  it('finds the groups a device is in, and none without groups or an identity', () => {
    expect(groupsOf(groups, DEVICE)).toEqual(new Set(['year9']));
    expect(groupsOf(groups, '00000000-0000-4000-8000-000000000002')).toEqual(new Set());
    expect(groupsOf(undefined, DEVICE)).toEqual(new Set());
    expect(groupsOf(groups, null)).toEqual(new Set());
  });

  it('applies a rule scoped to several groups on a device in any one of them, and nowhere else', () => {
    const rules = [{ kind: 'sha256', sha256: HASH_A, action: 'allow', id: 'scoped', groups: ['year9', 'staff'] }];
    expect(decide(rules, { groups: ['staff'] }).decide(fileInfo({ sha256: HASH_A }))).toMatchObject({ action: 'allow', ruleId: 'scoped' });
    const elsewhere = decide(rules, { groups: ['year7'] });
    expect(elsewhere.decide(fileInfo({ sha256: HASH_A }))).toEqual({ action: 'deny', reason: 'default' });
    expect(elsewhere.report.skipped).toEqual([{ ruleId: 'scoped', kind: 'sha256', why: 'scoped to year9, staff; this device is in none of them' }]);
    // A rules file has no device identity: scoped rules do not apply.
    const file = ExecRulesSchema.parse({ format: 'vigil-exec-rules/1', mode: 'enforce', defaultAction: 'deny', allowSha256: [HASH_B] });
    expect(ruleSetDecider(ruleSetFromRules(file))(fileInfo({ sha256: HASH_B }))).toEqual({ action: 'allow', reason: 'hash-allow' });
  });
});

describe('path rules per platform', () => {
  it('compiles a path rule only for its own platform, and says why not otherwise', () => {
    const rules = [
      { kind: 'path', platform: 'windows', pattern: '%PROGRAMFILES%\\*', action: 'allow', id: 'win' },
      { kind: 'path', pattern: '/opt/**', action: 'allow', id: 'posix' },
    ];
    const onLinux = decide(rules, { backend: LINUX_BACKEND });
    expect(onLinux.report.skipped).toEqual([{ ruleId: 'win', kind: 'path', why: 'a windows path pattern; this backend evaluates posix paths' }]);
    expect(onLinux.decide(fileInfo({ path: '/opt/app/run' }))).toEqual({ action: 'allow', reason: 'path-allow', ruleId: 'posix' });
    // A Windows pattern must never be matched against a POSIX path, nor the other way round.
    expect(onLinux.ruleSet.paths).toHaveLength(1);
    const onWindows = compileRuleSet(
      { mode: 'enforce', defaultAction: 'deny', rules: rules.map(rule), exceptions: [] },
      { groups: new Set(), backend: WINDOWS_BACKEND, now: NOW, windowsVars: { PROGRAMFILES: 'C:\\Program Files' } },
    );
    expect(onWindows.report.skipped).toEqual([{ ruleId: 'posix', kind: 'path', why: 'a posix path pattern; this backend evaluates windows paths' }]);
    const d = ruleSetDecider(onWindows.ruleSet, () => NOW);
    expect(d(fileInfo({ path: 'c:/program files/app/run.exe' }))).toEqual({ action: 'deny', reason: 'default' }); // not normalised here: the backend gives \ paths
    expect(d(fileInfo({ path: 'c:\\program files\\app\\run.exe' }))).toEqual({ action: 'allow', reason: 'path-allow', ruleId: 'win' });
    expect(d(fileInfo({ path: '/opt/app/run' }))).toEqual({ action: 'deny', reason: 'default' });
  });

  it('skips a Windows pattern with a variable this device cannot expand, and Authenticode hashes except on Windows', () => {
    const rules = [
      { kind: 'path', platform: 'windows', pattern: '%REMOVABLE%\\*', action: 'block', id: 'sticks' },
      { kind: 'authenticode-sha256', hash: HASH_A, action: 'allow', id: 'ac' },
    ];
    const win = decide(rules, { backend: WINDOWS_BACKEND });
    expect(win.report).toEqual({
      ruleCount: 0,
      skipped: [
        { ruleId: 'sticks', kind: 'path', why: 'a Windows path variable this device cannot expand' },
        { ruleId: 'ac', kind: 'authenticode-sha256', why: 'an Authenticode hash can only be evaluated by the Windows backend' },
      ],
      nextExpiry: null,
    });
    const withAuthenticode = decide(rules, { backend: { ...WINDOWS_BACKEND, authenticode: true } });
    expect(withAuthenticode.report.ruleCount).toBe(1);
    expect(withAuthenticode.ruleSet.byHash.size).toBe(0); // evaluated by the backend itself, never as a file SHA-256
  });

  it('Windows patterns: variables by any case, * across separators, everything else literal and case-insensitive', () => {
    const vars = { WINDIR: 'C:\\Windows', SYSTEM32: 'C:\\Windows\\System32' };
    const re = windowsPatternToRegExp('%windir%\\Temp\\*.exe', vars)!;
    expect(re.test('c:\\windows\\temp\\a\\b.exe')).toBe(true);
    expect(re.test('C:\\Windows\\Temp\\x.exe.txt')).toBe(false);
    expect(re.test('D:\\C:\\Windows\\Temp\\x.exe')).toBe(false); // anchored
    expect(windowsPatternToRegExp('C:/Tools/a+b (1).exe', {})!.test('c:\\tools\\A+B (1).EXE')).toBe(true);
    expect(windowsPatternToRegExp('C:\\Tools\\a+b.exe', {})!.test('C:\\Tools\\aab.exe')).toBe(false);
    expect(windowsPatternToRegExp('C:\\Tools\\a.exe', {})!.test('C:\\Tools\\abexe')).toBe(false);
    expect(windowsPatternToRegExp('%SYSTEM32%\\*', vars)!.test('C:\\Windows\\System32\\line\nbreak')).toBe(true);
    expect(windowsPatternToRegExp('%SYSTEM32%\\x.exe', {})).toBeNull();
  });

  it('POSIX globs: ** across directories, * and ? within one, everything else literal, anchored', () => {
    expect(globToRegExp('/opt/**').test('/opt/a/b/c')).toBe(true);
    expect(globToRegExp('/opt/*').test('/opt/a/b')).toBe(false);
    expect(globToRegExp('/opt/*').test('/opt/a')).toBe(true);
    expect(globToRegExp('/opt/?').test('/opt/ab')).toBe(false);
    expect(globToRegExp('/opt/?').test('/opt/a')).toBe(true);
    expect(globToRegExp('/opt/?').test('/opt//')).toBe(false);
    expect(globToRegExp('/opt/a.b').test('/opt/axb')).toBe(false);
    expect(globToRegExp('/opt/a+').test('/opt/aa')).toBe(false);
    expect(globToRegExp('/opt/a').test('/x/opt/a')).toBe(false);
    expect(globToRegExp('/opt/a').test('/opt/a/b')).toBe(false);
    expect(globToRegExp('/opt/**').test('/opt/line\nbreak')).toBe(true);
    expect(globToRegExp('/opt/**.sh').test('/opt/a/b.py')).toBe(false);
    expect(globToRegExp('/opt/**.sh').test('/opt/a/bsh')).toBe(false); // the '.' after ** is kept, and literal
    expect(globToRegExp('/opt/**x').test('/opt/a/b')).toBe(false);
    expect(globToRegExp('/opt/**.sh').test('/opt/a/b.sh')).toBe(true);
  });
});

describe('built-in always-allow paths', () => {
  it('Windows paths compare case-insensitively with either separator, by whole component, on the same device', () => {
    const builtins = [
      { path: 'C:\\Windows\\', dev: 3n },
      { path: 'C:/Program Files/Vigil', dev: 3n },
    ];
    expect(builtinAllows(builtins, 'c:/windows/system32/cmd.exe', 3n)).toBe(true);
    expect(builtinAllows(builtins, 'C:\\WINDOWS\\notepad.exe', 3n)).toBe(true);
    expect(builtinAllows(builtins, 'C:\\Windows', 3n)).toBe(true);
    expect(builtinAllows(builtins, 'C:\\WindowsEvil\\x.exe', 3n)).toBe(false);
    expect(builtinAllows(builtins, 'C:\\Program Files\\Vigil\\vigil.exe', 3n)).toBe(true);
    expect(builtinAllows(builtins, 'C:\\Program Files\\VigilPlus\\x.exe', 3n)).toBe(false);
    expect(builtinAllows(builtins, 'C:\\Windows\\notepad.exe', 4n)).toBe(false);
    // Any number of trailing separators on a Windows built-in.
    expect(builtinAllows([{ path: 'C:\\Tools\\\\', dev: 3n }], 'C:\\Tools\\x.exe', 3n)).toBe(true);
    // A POSIX path with a drive-like part in the middle is still POSIX: case-sensitive.
    expect(builtinAllows([{ path: '/mnt/C:/Tools', dev: 2n }], '/mnt/c:/tools/x', 2n)).toBe(false);
    expect(builtinAllows([{ path: '/mnt/C:/Tools', dev: 2n }], '/mnt/C:/Tools/x', 2n)).toBe(true);
    // A path that is not absolute is under no built-in, not even /.
    expect(builtinAllows([{ path: '/', dev: 2n }], 'memfd:payload', 2n)).toBe(false);
    // A POSIX built-in stays case-sensitive.
    expect(builtinAllows([{ path: '/usr', dev: 2n }], '/USR/bin/ls', 2n)).toBe(false);
    expect(builtinAllows([{ path: '/', dev: 2n }], '/anything', 2n)).toBe(true);
    expect(builtinAllows([{ path: '/usr', dev: 2n }], '/usr', 2n)).toBe(true);
  });
});

describe('exec evaluator', () => {
  const pending = (over: Partial<PendingExec> = {}): PendingExec => ({
    path: '/usr/bin/tool',
    pid: 9,
    dev: 2n,
    ino: 5n,
    size: 10,
    ctimeSec: 1,
    ctimeNsec: 2,
    ...over,
  });
  const allowA: ExecRuleSet = ruleSetFromRules(
    ExecRulesSchema.parse({ format: 'vigil-exec-rules/1', mode: 'enforce', defaultAction: 'deny', allowSha256: [HASH_A] }),
  );

  it('hashes a file under a built-in path when the path here is not that file (a private bind mount)', async () => {
    const hashed: string[] = [];
    const evaluator = new ExecEvaluator(
      { builtins: [{ path: '/usr', dev: 2n }], hash: async (e) => (hashed.push(e.path), HASH_B), sameFileHere: () => false },
      { decide: ruleSetDecider(allowA), mode: 'enforce' },
    );
    const result = await evaluator.evaluate(pending());
    expect(result).toMatchObject({ respond: 'deny', verdict: { action: 'deny', reason: 'default' }, sha256: HASH_B });
    expect(hashed).toEqual(['/usr/bin/tool']);
    const trusted = new ExecEvaluator(
      { builtins: [{ path: '/usr', dev: 2n }], hash: async () => HASH_B, sameFileHere: () => true },
      { decide: ruleSetDecider(allowA), mode: 'enforce' },
    );
    const started = performance.now();
    const builtin = await trusted.evaluate(pending());
    expect(builtin).toMatchObject({ respond: 'allow', verdict: { reason: 'builtin' }, identityTrusted: true, cached: true, sha256: null });
    // The evaluation's own timing is part of the time measured around it.
    expect(builtin.ms).toBeGreaterThanOrEqual(0);
    expect(builtin.ms).toBeLessThanOrEqual(performance.now() - started);
  });

  it('never caches a file whose identity cannot be trusted, and hashes it every time', async () => {
    let calls = 0;
    const evaluator = new ExecEvaluator(
      { builtins: [], hash: async () => (calls++ === 0 ? HASH_A : HASH_B), identityTrusted: () => false },
      { decide: ruleSetDecider(allowA), mode: 'enforce' },
    );
    expect(await evaluator.evaluate(pending())).toMatchObject({ respond: 'allow', cached: false, identityTrusted: false, sha256: HASH_A });
    // Same identity, new content (a FAT file rewritten with its old ctime): hashed again, refused.
    expect(await evaluator.evaluate(pending())).toMatchObject({ respond: 'deny', cached: false, sha256: HASH_B });
    expect(evaluator.cache.size).toBe(0);
  });

  it('treats a hash that throws as unreadable (the default decides), trusted identity or not', async () => {
    for (const identityTrusted of [true, false]) {
      const evaluator = new ExecEvaluator(
        { builtins: [], hash: async () => Promise.reject(new Error('EIO')), identityTrusted: () => identityTrusted },
        { decide: ruleSetDecider(allowA), mode: 'enforce' },
      );
      expect(await evaluator.evaluate(pending()), String(identityTrusted)).toMatchObject({
        respond: 'deny',
        verdict: { reason: 'default' },
        sha256: null,
        cached: false,
      });
    }
  });

  it('hashes again once an earlier hash has finished (nothing stays in flight), and hands the decision the file and its signer', async () => {
    const seen: ExecFileInfo[] = [];
    let calls = 0;
    const evaluator = new ExecEvaluator(
      { builtins: [], hash: async () => (calls++, null) },
      { decide: (f) => (seen.push(f), { action: 'deny', reason: 'default' }), mode: 'monitor' },
    );
    await evaluator.evaluate(pending());
    const started = performance.now();
    const result = await evaluator.evaluate(pending(), CONTOSO);
    expect(calls).toBe(2);
    expect(result).toMatchObject({ respond: 'allow', wouldBlock: true, mode: 'monitor' });
    expect(result.ms).toBeGreaterThanOrEqual(0);
    expect(result.ms).toBeLessThanOrEqual(performance.now() - started);
    expect(seen[1]).toEqual({ path: '/usr/bin/tool', pid: 9, dev: 2n, ino: 5n, size: 10, ctimeSec: 1, ctimeNsec: 2, sha256: null, signer: CONTOSO });
    expect(seen[0]).not.toHaveProperty('signer');
  });
});
