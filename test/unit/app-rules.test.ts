import { describe, expect, it } from 'vitest';
import { ruleSetDecider, type ExecFileInfo } from '../../src/agent/exec/decision.js';
import { compileApplications, globToRegExp, groupsOf, LINUX_BACKEND, type BackendCapabilities } from '../../src/agent/exec/rule-set.js';
import { ApplicationsSchema, type SignerInfo } from '../../src/shared/app-rules.js';
import { PolicyDocumentSchema } from '../../src/shared/policy.js';

const HASH_A = 'a'.repeat(64);
const HASH_B = 'b'.repeat(64);
const DEVICE = '3f1c2a9e-8a55-4a8e-9b1e-0d6f3a1c2b7d';
const SIGNING_BACKEND: BackendCapabilities = { pathPlatform: 'posix', signers: true, authenticode: false };
const SIGNER: SignerInfo = { publisher: null, product: null, binaryName: null, teamId: 'EQHXZ8M8AV', signingId: 'com.google.Chrome' };

const file = (over: Partial<ExecFileInfo> = {}): ExecFileInfo => ({
  path: '/home/pupil/tool',
  pid: 1,
  dev: 1n,
  ino: 1n,
  size: 1,
  ctimeSec: 0,
  ctimeNsec: 0,
  sha256: HASH_A,
  signer: SIGNER,
  ...over,
});

function decider(apps: unknown, opts: { groups?: string[]; backend?: BackendCapabilities; now?: number } = {}) {
  const parsed = ApplicationsSchema.parse(apps);
  const now = opts.now ?? Date.parse('2026-01-10T12:00:00Z');
  const { ruleSet, report } = compileApplications(parsed, new Set(opts.groups ?? []), opts.backend ?? SIGNING_BACKEND, now);
  return { decide: ruleSetDecider(ruleSet, () => now), report };
}

describe('rule precedence: hash beats signer beats path beats default', () => {
  const rules = [
    { kind: 'path', pattern: '/home/**', action: 'block', id: 'no-home' },
    { kind: 'signer', teamId: 'EQHXZ8M8AV', action: 'allow', id: 'google' },
    { kind: 'sha256', sha256: HASH_A, action: 'block', id: 'bad-build' },
  ];

  it('a hash rule wins over a signer and a path rule', () => {
    expect(decider({ mode: 'enforce', defaultAction: 'allow', rules }).decide(file())).toEqual({ action: 'deny', reason: 'hash-block', ruleId: 'bad-build' });
  });
  it('with no hash rule, the signer rule wins over the path rule', () => {
    expect(decider({ mode: 'enforce', rules }).decide(file({ sha256: HASH_B }))).toMatchObject({ action: 'allow', reason: 'signer-allow', ruleId: 'google' });
  });
  it('with no hash or signer match, the path rule decides; otherwise the default', () => {
    const { decide } = decider({ mode: 'enforce', defaultAction: 'allow', rules });
    expect(decide(file({ sha256: HASH_B, signer: null }))).toMatchObject({ action: 'deny', reason: 'path-block' });
    expect(decide(file({ sha256: HASH_B, signer: null, path: '/opt/tool' }))).toEqual({ action: 'allow', reason: 'default' });
  });
  it('within one tier a block beats an allow', () => {
    const { decide } = decider({
      rules: [
        { kind: 'path', pattern: '/home/**', action: 'allow' },
        { kind: 'path', pattern: '/home/*/tool', action: 'block' },
      ],
    });
    expect(decide(file({ signer: null, sha256: null }))).toMatchObject({ action: 'deny', reason: 'path-block' });
  });
  it('the legacy allowSha256 list of a rules file is a hash allow', async () => {
    const { ruleSetFromRules } = await import('../../src/agent/exec/rule-set.js');
    const set = ruleSetFromRules({
      format: 'vigil-exec-rules/1',
      mode: 'enforce',
      defaultAction: 'deny',
      allowSha256: [HASH_A],
      rules: [{ kind: 'path', pattern: '/home/**', action: 'block' }],
      exceptions: [],
    });
    expect(ruleSetDecider(set)(file())).toEqual({ action: 'allow', reason: 'hash-allow' });
  });
});

describe('signers are matched only when the OS reported them', () => {
  it('an unknown signer never matches a signer rule', () => {
    const { decide } = decider({ defaultAction: 'block', rules: [{ kind: 'signer', teamId: 'EQHXZ8M8AV', action: 'allow' }] });
    expect(decide(file({ sha256: HASH_B, signer: null }))).toEqual({ action: 'deny', reason: 'default' });
    // A rule field that is given must match a known value: signingId null on the file is no match.
    const narrow = decider({ defaultAction: 'block', rules: [{ kind: 'signer', teamId: 'EQHXZ8M8AV', signingId: 'com.google.Chrome', action: 'allow' }] });
    expect(narrow.decide(file({ sha256: HASH_B, signer: { ...SIGNER, signingId: null } }))).toEqual({ action: 'deny', reason: 'default' });
  });
  it('the Linux backend reports signer and Authenticode rules as not evaluable instead of dropping them silently', () => {
    const { report } = decider(
      {
        rules: [
          { kind: 'signer', publisher: 'O=MOZILLA CORPORATION, L=MOUNTAIN VIEW, S=CALIFORNIA, C=US', action: 'allow', id: 'moz' },
          { kind: 'authenticode-sha256', hash: HASH_B, action: 'allow', id: 'ac' },
          { kind: 'path', platform: 'windows', pattern: '%PROGRAMFILES%\\*', action: 'allow', id: 'pf' },
          { kind: 'sha256', sha256: HASH_A, action: 'allow' },
        ],
      },
      { backend: LINUX_BACKEND },
    );
    expect(report.ruleCount).toBe(1);
    expect(report.skipped.map((s) => s.ruleId)).toEqual(['moz', 'ac', 'pf']);
    expect(report.skipped[1]!.why).toMatch(/Authenticode/);
  });
});

describe('time-boxed exceptions', () => {
  const apps = (expiresAt: string) => ({
    mode: 'enforce',
    defaultAction: 'block',
    rules: [{ kind: 'path', pattern: '/home/**', action: 'block', id: 'no-home' }],
    exceptions: [{ rule: { kind: 'path', pattern: '/home/pupil/tool', action: 'allow', id: 'exam-tool' }, reason: 'exam software until Friday', expiresAt }],
  });

  it('a live exception beats a regular rule of its tier', () => {
    expect(decider(apps('2026-01-11T00:00:00Z')).decide(file({ sha256: HASH_B, signer: null }))).toEqual({
      action: 'allow',
      reason: 'path-allow',
      ruleId: 'exam-tool',
      exception: true,
    });
  });
  it('but not a more specific tier: a hash block still wins', () => {
    const a = apps('2026-01-11T00:00:00Z');
    const { decide } = decider({ ...a, rules: [...a.rules, { kind: 'sha256', sha256: HASH_B, action: 'block' }] });
    expect(decide(file({ sha256: HASH_B, signer: null }))).toMatchObject({ action: 'deny', reason: 'hash-block' });
  });
  it('lapses at its expiry, checked at decision time, and is reported when compiled after it', () => {
    const parsed = ApplicationsSchema.parse(apps('2026-01-10T12:00:01Z'));
    let now = Date.parse('2026-01-10T12:00:00Z');
    const { ruleSet, report } = compileApplications(parsed, new Set(), LINUX_BACKEND, now);
    expect(report.nextExpiry).toBe(Date.parse('2026-01-10T12:00:01Z'));
    const decide = ruleSetDecider(ruleSet, () => now);
    expect(decide(file({ sha256: HASH_B, signer: null })).action).toBe('allow');
    now += 1000;
    expect(decide(file({ sha256: HASH_B, signer: null }))).toMatchObject({ action: 'deny', reason: 'path-block', ruleId: 'no-home' });
    const later = compileApplications(parsed, new Set(), LINUX_BACKEND, now).report;
    expect(later.skipped).toEqual([{ ruleId: 'exam-tool', kind: 'path', why: 'exception expired' }]);
  });
  it('requires a reason and an expiry', () => {
    const bad = ApplicationsSchema.safeParse({ exceptions: [{ rule: { kind: 'sha256', sha256: HASH_A, action: 'allow' } }] });
    expect(bad.success).toBe(false);
  });
});

describe('group scope', () => {
  it('a rule scoped to groups applies only on member devices', () => {
    const policy = PolicyDocumentSchema.parse({
      format: 'vigil-policy/1',
      name: 'p',
      groups: { 'year-7': [DEVICE], lab: [] },
      applications: { mode: 'enforce', defaultAction: 'block', rules: [{ kind: 'sha256', sha256: HASH_A, action: 'allow', groups: ['year-7'] }] },
    });
    const mine = groupsOf(policy.groups, DEVICE);
    expect([...mine]).toEqual(['year-7']);
    const member = compileApplications(policy.applications!, mine, LINUX_BACKEND);
    const other = compileApplications(policy.applications!, groupsOf(policy.groups, '00000000-0000-4000-8000-000000000000'), LINUX_BACKEND);
    expect(ruleSetDecider(member.ruleSet)(file()).action).toBe('allow');
    expect(ruleSetDecider(other.ruleSet)(file()).action).toBe('deny');
    expect(other.report.skipped[0]!.why).toMatch(/scoped to year-7/);
  });
});

describe('path patterns', () => {
  it('* stays within one path component, ** crosses them, ? is one character, the rest is literal', () => {
    expect(globToRegExp('/home/*/bin/*').test('/home/ann/bin/tool')).toBe(true);
    expect(globToRegExp('/home/*/tool').test('/home/ann/sub/tool')).toBe(false);
    expect(globToRegExp('/home/**/tool').test('/home/ann/sub/tool')).toBe(true);
    expect(globToRegExp('/tmp/a?c').test('/tmp/abc')).toBe(true);
    expect(globToRegExp('/tmp/a?c').test('/tmp/a/c')).toBe(false);
    expect(globToRegExp('/tmp/a.b').test('/tmp/axb')).toBe(false);
    expect(globToRegExp('/tmp/(x)+').test('/tmp/(x)+')).toBe(true);
  });
  it('refuses relative POSIX patterns, brackets and braces', () => {
    for (const pattern of ['home/*', '/tmp/[ab]', '/tmp/{a,b}']) {
      expect(ApplicationsSchema.safeParse({ rules: [{ kind: 'path', pattern, action: 'allow' }] }).success).toBe(false);
    }
  });
});

describe('built-in always-allow rules', () => {
  it('cannot be overridden by a policy: a hash or path block on a built-in path still runs', async () => {
    const { ExecEvaluator } = await import('../../src/agent/exec/evaluator.js');
    const { ruleSet } = compileApplications(
      ApplicationsSchema.parse({
        mode: 'enforce',
        defaultAction: 'block',
        rules: [
          { kind: 'sha256', sha256: HASH_A, action: 'block' },
          { kind: 'path', pattern: '/usr/**', action: 'block' },
        ],
      }),
      new Set(),
      LINUX_BACKEND,
    );
    const evaluator = new ExecEvaluator(
      { builtins: [{ path: '/usr', dev: 1n }], hash: async () => HASH_A },
      { decide: ruleSetDecider(ruleSet), mode: 'enforce' },
    );
    const exec = { path: '/usr/bin/tool', pid: 1, dev: 1n, ino: 1n, size: 1, ctimeSec: 0, ctimeNsec: 0 };
    expect((await evaluator.evaluate(exec)).verdict).toEqual({ action: 'allow', reason: 'builtin' });
    // The same content elsewhere is blocked by the hash rule.
    expect((await evaluator.evaluate({ ...exec, path: '/home/x/tool', ino: 2n })).verdict).toMatchObject({ action: 'deny', reason: 'hash-block' });
  });
});
