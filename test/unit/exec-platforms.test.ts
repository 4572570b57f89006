import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ruleSetDecider } from '../../src/agent/exec/decision.js';
import { FallbackWatcher, whyNotActOn, type ObservedProcess } from '../../src/agent/exec/fallback.js';
import { compileRuleSet, deviceRules, WINDOWS_BACKEND, windowsPatternToRegExp, DARWIN_BACKEND } from '../../src/agent/exec/rule-set.js';
import { lstartMs, parseCodesign, parsePs, PsPollBackend, readCodesignSigner } from '../../src/agent/platform/darwin/exec-control.js';
import {
  applyAppLockerPolicy,
  appLockerPolicyFor,
  appLockerPublisher,
  parseAuthenticode,
  parseWin32Processes,
  psQuote,
  readAuthenticodeSigner,
  win32KillScript,
  WmiPollBackend,
  WIN32_PROCESS_QUERY,
} from '../../src/agent/platform/win32/exec-control.js';
import { importAppLocker } from '../../src/shared/node/appcontrol/applocker.js';
import type { AppRule } from '../../src/shared/app-rules.js';
import type { ExecWatchRecord } from '../../src/shared/exec.js';
import { recorder } from '../helpers/recorded-runner.js';

/**
 * The Windows and macOS application-control backends against RECORDED outputs
 * (test/fixtures/exec-platforms, shapes from the tools' documentation: see its README). No
 * command is run: the recorder answers and keeps the command lines, which are checked too.
 */
const fixture = (name: string) => readFileSync(join(import.meta.dirname, '../fixtures/exec-platforms', name), 'utf8');
const GAME_SHA = 'd'.repeat(64);
const identity = (path: string) => ({ dev: 7n, ino: BigInt(path.length), size: 1000, ctimeSec: 1_700_000_000, ctimeNsec: 0 });
const settle = () => new Promise((r) => setTimeout(r, 20));

function watch<P extends ObservedProcess>(
  backend: ConstructorParameters<typeof FallbackWatcher<P>>[0]['backend'],
  rules: AppRule[],
  capabilities = WINDOWS_BACKEND,
  vars = {},
) {
  const records: ExecWatchRecord[] = [];
  const { ruleSet } = compileRuleSet(
    { mode: 'enforce', defaultAction: 'deny', rules, exceptions: [] },
    { groups: new Set(), backend: capabilities, windowsVars: vars },
  );
  const watcher = new FallbackWatcher<P>({
    backend,
    builtins: [],
    decide: ruleSetDecider(ruleSet),
    mode: 'enforce',
    whyNot: (p) => whyNotActOn(p, { pid: 1, uid: null }),
    onRecord: (r) => records.push(r),
  });
  return { watcher, records };
}

describe('Windows: WMI process list, Stop-Process, Authenticode, AppLocker (recorded)', () => {
  it('parses Win32_Process rows, including the single-object form ConvertTo-Json writes for one process', () => {
    const rows = parseWin32Processes(fixture('win32-processes.json'));
    expect(rows).toHaveLength(6);
    expect(rows[5]).toEqual({ pid: 9120, path: 'C:\\Users\\pupil1\\Downloads\\game.exe', created: '2026-11-23T09:15:00.0000000Z', sessionId: 1 });
    expect(rows[0]).toMatchObject({ pid: 0, path: null, created: null });
    expect(parseWin32Processes(fixture('win32-process-single.json'))).toEqual([rows[5]]);
    expect(parseWin32Processes('\uFEFF')).toEqual([]);
    expect(() => parseWin32Processes('{not json')).toThrow();
  });

  it('polls, allows by path rule and signer, ends the unapproved program with checks, and says how long it lived', async () => {
    const { runner, calls } = recorder({
      'powershell.exe': (args) => {
        const script = args.at(-1)!;
        if (script === WIN32_PROCESS_QUERY) return { stdout: fixture('win32-processes.json') };
        if (script.startsWith('$s = Get-AuthenticodeSignature')) {
          return { stdout: script.includes('firefox.exe') ? fixture('win32-authenticode-valid.json') : fixture('win32-authenticode-notsigned.json') };
        }
        if (script.startsWith('$p = Get-CimInstance')) return { stdout: 'killed\r\n' };
        return { code: 1, stderr: 'unexpected' };
      },
    });
    const now = Date.parse('2026-11-23T09:15:01.250Z');
    const backend = new WmiPollBackend(runner, { identity, now: () => now, hash: async (p) => (p.path.endsWith('game.exe') ? GAME_SHA : 'e'.repeat(64)) });
    const { watcher, records } = watch(
      backend,
      [
        { kind: 'path', platform: 'windows', pattern: '%WINDIR%\\*', action: 'allow' },
        { kind: 'signer', publisher: 'O=MOZILLA CORPORATION, L=SAN FRANCISCO, S=CALIFORNIA, C=US', product: 'FIREFOX', action: 'allow' },
      ],
      WINDOWS_BACKEND,
      { WINDIR: 'C:\\Windows' },
    );
    await watcher.start();
    await settle();
    watcher.stop();
    // Session 0 (services) is never judged; Explorer (Windows dir, any case) and Firefox (signer) are allowed.
    expect(records).toEqual([
      expect.objectContaining({
        watcher: 'wmi',
        pid: 9120,
        path: 'C:\\Users\\pupil1\\Downloads\\game.exe',
        sha256: GAME_SHA,
        verdict: 'deny',
        action: 'killed',
        livedMs: 1250,
        signer: 'unknown',
      }),
    ]);
    const kills = calls.filter((c) => c.at(-1)!.startsWith('$p = Get-CimInstance'));
    expect(kills).toEqual([
      [
        'powershell.exe',
        '-NoProfile',
        '-NonInteractive',
        '-ExecutionPolicy',
        'Bypass',
        '-Command',
        win32KillScript(9120, '2026-11-23T09:15:00.0000000Z', 'C:\\Users\\pupil1\\Downloads\\game.exe'),
      ],
    ]);
    expect(kills[0]!.at(-1)).toBe(
      "$p = Get-CimInstance -ClassName Win32_Process -Filter 'ProcessId=9120'; if (-not $p) { 'gone' }; elseif ($p.CreationDate.ToUniversalTime().ToString('o') -ne '2026-11-23T09:15:00.0000000Z' -or $p.ExecutablePath -ne 'C:\\Users\\pupil1\\Downloads\\game.exe') { 'changed' }; else { Stop-Process -Id 9120 -Force -ErrorAction Stop; 'killed' }",
    );
    // Seen once: the next poll reports nothing new.
    const before = records.length;
    await backend.poll(() => records.push({ type: 'error', message: 'reported twice' }));
    expect(records).toHaveLength(before);
  });

  it('reports a reused pid as changed and a refused Stop-Process as denied; refuses bad values in scripts', async () => {
    const p = {
      pid: 9120,
      uid: null,
      user: null,
      start: 'x',
      created: '2026-11-23T09:15:00.0000000Z',
      sessionId: 1,
      path: "C:\\Users\\o'brien\\x.exe",
      ...identity('x'),
    };
    for (const [answer, outcome] of [
      [{ stdout: 'changed' }, 'changed'],
      [{ code: 1, stderr: 'Access is denied' }, 'denied'],
      [{ stdout: 'gone' }, 'gone'],
    ] as const) {
      const { runner, calls } = recorder({ 'powershell.exe': answer });
      expect(await new WmiPollBackend(runner).terminate(p)).toEqual({ outcome, livedMs: null });
      expect(calls[0]!.at(-1)).toContain("-ne 'C:\\Users\\o''brien\\x.exe'"); // quotes doubled inside '...'
    }
    // Typographic quotes end a '...' string in PowerShell too: doubled like plain ones.
    expect(psQuote('C:\\a\u2019; Remove-Item x')).toBe("'C:\\a\u2019\u2019; Remove-Item x'");
    expect(() => win32KillScript(4, '2026-11-23T09:15:00Z', 'x')).toThrow(/refusing/);
    expect(() => win32KillScript(900, "2026'; Remove-Item C:\\", 'x')).toThrow(/creation date/);
  });

  it('reads Authenticode signers: valid ones as AppLocker publishers, anything else unknown', async () => {
    expect(parseAuthenticode(fixture('win32-authenticode-valid.json'))).toEqual({
      publisher: 'O=MOZILLA CORPORATION, L=SAN FRANCISCO, S=CALIFORNIA, C=US',
      product: 'FIREFOX',
      binaryName: 'FIREFOX.EXE',
      teamId: null,
      signingId: null,
    });
    // A plain `Get-AuthenticodeSignature | ConvertTo-Json`: Status 0 (Valid), quoted subject parts.
    expect(parseAuthenticode(fixture('win32-authenticode-raw.json'))).toMatchObject({ publisher: 'O="EXAMPLE LEARNING, INC.", L=LEEDS, C=GB', product: null });
    expect(parseAuthenticode(fixture('win32-authenticode-notsigned.json'))).toBeNull();
    expect(parseAuthenticode(fixture('win32-authenticode-valid.json').replace('"Valid"', '"HashMismatch"'))).toBeNull();
    expect(parseAuthenticode('garbage')).toBeNull();
    expect(appLockerPublisher('CN=Someone')).toBeNull();
    const { runner, calls } = recorder({ 'powershell.exe': { stdout: fixture('win32-authenticode-valid.json') } });
    expect(await readAuthenticodeSigner(runner, 'C:\\Program Files\\Mozilla Firefox\\firefox.exe')).toMatchObject({ product: 'FIREFOX' });
    expect(calls[0]!.at(-1)).toBe(
      "$s = Get-AuthenticodeSignature -LiteralPath 'C:\\Program Files\\Mozilla Firefox\\firefox.exe'; $v = (Get-Item -LiteralPath 'C:\\Program Files\\Mozilla Firefox\\firefox.exe').VersionInfo; [pscustomobject]@{ Status = [string]$s.Status; StatusMessage = $s.StatusMessage; SignerCertificate = [pscustomobject]@{ Subject = $s.SignerCertificate.Subject; Thumbprint = $s.SignerCertificate.Thumbprint }; ProductName = $v.ProductName; OriginalFilename = $v.OriginalFilename } | ConvertTo-Json -Compress",
    );
  });

  it('translates the device rules into an AppLocker policy with the built-in rules, and applies it', async () => {
    const apps = {
      mode: 'enforce' as const,
      defaultAction: 'block' as const,
      rules: [
        { kind: 'signer', publisher: 'O=MOZILLA CORPORATION, L=SAN FRANCISCO, S=CALIFORNIA, C=US', product: 'FIREFOX', action: 'allow', id: 'firefox' },
        { kind: 'authenticode-sha256', hash: 'ab'.repeat(32), fileName: 'game.exe', action: 'block', id: 'game' },
        { kind: 'sha256', sha256: 'cd'.repeat(32), action: 'allow', id: 'plain' },
        { kind: 'path', platform: 'windows', pattern: '%OSDRIVE%\\Exams\\*', action: 'allow', groups: ['year-10'], id: 'exams' },
      ] as AppRule[],
      exceptions: [
        {
          rule: { kind: 'path', platform: 'windows', pattern: '%OSDRIVE%\\Mock\\*', action: 'allow', id: 'mock' } as AppRule,
          reason: 'mocks',
          expiresAt: '2999-01-01T00:00:00Z',
        },
      ],
    };
    const { xml, notes } = appLockerPolicyFor(apps, deviceRules(apps, new Set(['year-10'])));
    expect(notes).toEqual([{ ruleId: 'plain', message: expect.stringMatching(/Authenticode/) }]);
    expect(xml).toContain('<RuleCollection Type="Exe" EnforcementMode="Enabled">');
    expect(xml).toContain('<FilePathCondition Path="%WINDIR%\\*" />');
    expect(xml).toContain('<FilePathCondition Path="%PROGRAMFILES%\\*" />');
    expect(xml).toContain('<FilePathCondition Path="%OSDRIVE%\\Exams\\*" />'); // scoped to a group this device is in
    expect(xml).toContain('<FilePathCondition Path="%OSDRIVE%\\Mock\\*" />'); // live exception
    expect(xml).toContain('PublisherName="O=MOZILLA CORPORATION, L=SAN FRANCISCO, S=CALIFORNIA, C=US" ProductName="FIREFOX"');
    expect(xml).toContain('Data="0x' + 'AB'.repeat(32) + '"');
    expect(deviceRules(apps, new Set()).some((r) => r.id === 'exams')).toBe(false);
    // What Vigil writes, AppLocker's own format, reads back as the same rules.
    const back = importAppLocker(Buffer.from(xml, 'utf8'));
    expect(back.rules.map((r) => r.kind)).toEqual(['path', 'path', 'signer', 'authenticode-sha256', 'path', 'path']);
    expect(back.notes).toEqual([]);

    const dir = mkdtempSync(join(tmpdir(), 'vigil-applocker-'));
    try {
      const { runner, calls } = recorder({
        'sc.exe': (args) => (args[0] === 'start' ? { code: 1056, stderr: 'An instance of the service is already running.' } : {}),
      });
      const result = await applyAppLockerPolicy(runner, xml, dir);
      expect(result.ok).toBe(true);
      expect(calls).toEqual([
        ['sc.exe', 'config', 'AppIDSvc', 'start=', 'auto'],
        ['sc.exe', 'start', 'AppIDSvc'],
        [
          'powershell.exe',
          '-NoProfile',
          '-NonInteractive',
          '-ExecutionPolicy',
          'Bypass',
          '-Command',
          `Set-AppLockerPolicy -XmlPolicy '${result.file}' -ErrorAction Stop`,
        ],
      ]);
      const written = readFileSync(result.file);
      expect([...written.subarray(0, 2)]).toEqual([0xff, 0xfe]); // UTF-16 LE with a BOM
      expect(importAppLocker(written).rules).toHaveLength(6);
      const failing = recorder({ 'powershell.exe': { code: 1, stderr: 'Set-AppLockerPolicy : Access is denied.' } });
      expect(await applyAppLockerPolicy(failing.runner, xml, dir)).toMatchObject({ ok: false, detail: expect.stringMatching(/Access is denied/) });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('evaluates AppLocker path syntax: variables, any case, * across folders; unknown variables never match', () => {
    const re = windowsPatternToRegExp('%PROGRAMFILES%\\*', { PROGRAMFILES: 'C:\\Program Files' })!;
    expect(re.test('c:\\program files\\Mozilla Firefox\\firefox.exe')).toBe(true);
    expect(re.test('C:\\Program Files (x86)\\x.exe')).toBe(false);
    expect(windowsPatternToRegExp('%REMOVABLE%\\*', {})).toBeNull();
    expect(windowsPatternToRegExp('C:\\Tools\\a+b.exe', {})!.test('C:\\Tools\\a+b.exe')).toBe(true);
  });
});

describe('macOS: ps polling, kill after re-check, codesign (recorded)', () => {
  it('parses ps rows (space-padded days, paths with spaces) and lstart times', () => {
    const rows = parsePs(fixture('darwin-ps.txt'));
    expect(rows.map((r) => r.pid)).toEqual([1, 88, 412, 977, 1203]); // "(bash)" is not a path
    expect(rows[0]).toEqual({ pid: 1, uid: 0, lstart: 'Mon Nov 2 07:58:01 2026', path: '/sbin/launchd' });
    expect(rows[3]!.path).toBe('/Users/pupil1/Downloads/Game Launcher.app/Contents/MacOS/Game Launcher');
    expect(lstartMs('Mon Nov 23 09:15:00 2026')).toBe(new Date(2026, 10, 23, 9, 15, 0).getTime());
    expect(lstartMs('yesterday')).toBeNaN();
  });

  it('kills an unapproved program of a pupil after checking its start and program again; spares root and approved signers', async () => {
    const game = '/Users/pupil1/Downloads/Game Launcher.app/Contents/MacOS/Game Launcher';
    const { runner, calls } = recorder({
      ps: (args) => (args[0] === '-axo' ? { stdout: fixture('darwin-ps.txt') } : { stdout: `Mon Nov 23 09:15:00 2026     ${game}\n` }),
      codesign: (args) => {
        const path = args.at(-1)!;
        if (args[0] === '--verify') return path.includes('Chrome') ? {} : { code: 1, stderr: `${path}: code object is not signed at all` };
        return { stderr: fixture('darwin-codesign-chrome.txt') };
      },
      kill: {},
    });
    const now = new Date(2026, 10, 23, 9, 15, 2).getTime();
    const backend = new PsPollBackend(runner, { identity, now: () => now, hash: async () => GAME_SHA });
    const records: ExecWatchRecord[] = [];
    const { ruleSet } = compileRuleSet(
      {
        mode: 'enforce',
        defaultAction: 'deny',
        rules: [{ kind: 'signer', teamId: 'EQHXZ8M8AV', signingId: 'com.google.Chrome', action: 'allow' }],
        exceptions: [],
      },
      { groups: new Set(), backend: DARWIN_BACKEND },
    );
    const watcher = new FallbackWatcher({
      backend,
      builtins: [{ path: '/System', dev: 7n }],
      decide: ruleSetDecider(ruleSet),
      mode: 'enforce',
      whyNot: (p) => whyNotActOn(p, { pid: 50, uid: 0, firstHumanUid: 501 }),
      onRecord: (r) => records.push(r),
    });
    await watcher.start();
    await settle();
    watcher.stop();
    expect(records).toEqual([
      expect.objectContaining({ watcher: 'ps-poll', pid: 977, path: game, action: 'killed', livedMs: 2000, user: '501', signer: 'unknown' }),
    ]);
    expect(calls.filter((c) => c[0] === 'kill' || (c[0] === 'ps' && c[1] === '-o'))).toEqual([
      ['ps', '-o', 'lstart=,comm=', '-p', '977'],
      ['kill', '-KILL', '977'],
    ]);
  });

  it('a pid now running something else is not killed', async () => {
    const { runner, calls } = recorder({ ps: { stdout: 'Mon Nov 23 09:30:00 2026     /bin/zsh\n' } });
    const p = { pid: 977, uid: 501, user: 'pupil1', start: 'x', lstart: 'Mon Nov 23 09:15:00 2026', path: '/Users/pupil1/x', ...identity('x') };
    expect(await new PsPollBackend(runner).terminate(p)).toEqual({ outcome: 'changed', livedMs: null });
    expect(calls.some((c) => c[0] === 'kill')).toBe(false);
  });

  it('reads codesign output: team and signing id for Developer ID, none for ad-hoc, unknown when unsigned', async () => {
    expect(parseCodesign(fixture('darwin-codesign-chrome.txt'))).toEqual({
      publisher: 'Developer ID Application: Google LLC (EQHXZ8M8AV)',
      product: null,
      binaryName: null,
      teamId: 'EQHXZ8M8AV',
      signingId: 'com.google.Chrome',
    });
    expect(parseCodesign(fixture('darwin-codesign-apple.txt'))).toMatchObject({ teamId: null, signingId: 'com.apple.logd', publisher: 'Software Signing' });
    expect(parseCodesign(fixture('darwin-codesign-adhoc.txt'))).toBeNull();
    expect(parseCodesign('')).toBeNull();
    const unsigned = recorder({ codesign: { code: 1, stderr: 'code object is not signed at all' } });
    expect(await readCodesignSigner(unsigned.runner, '/Users/pupil1/tool')).toBeNull();
    expect(unsigned.calls).toEqual([['codesign', '--verify', '--strict', '/Users/pupil1/tool']]);
  });
});
